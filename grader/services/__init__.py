"""Domain logic shared by the API, the pages, the CLI and the workers.

Every function takes a SQLAlchemy Session first, checks who may do what, and commits its own
unit of work: an upload is durable before its grading task is sent.
"""
