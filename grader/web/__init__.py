"""Server-rendered pages (Jinja2) over the same services as the API, and the request plumbing
both share (deps, login, session); grader.api builds on this package, never the other way."""
