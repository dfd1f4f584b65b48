"""The student commands (`grader login`, `submit`, `submissions`): a client of the HTTP API only, so
a student's machine needs neither the database nor torch nor a rubric."""
