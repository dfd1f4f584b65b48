"""Domain logic shared by the API, the pages, the CLI and the workers.

Every function takes a SQLAlchemy Session first, checks who may do what, and commits its own
unit of work. Grading tasks are noted on the session (`queue.enqueue`) and sent when it
commits, so an upload is durable before its task goes out and a rolled-back one sends nothing.
"""
