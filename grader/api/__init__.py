"""The HTTP API: thin routes over grader.services (validate -> service -> response model)."""
