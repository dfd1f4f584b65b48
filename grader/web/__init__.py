"""Server-rendered pages (Jinja2) over the same services as the API."""
