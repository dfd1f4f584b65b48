"""Domain logic shared by the API, the pages, the CLI and the workers.

Every function takes a SQLAlchemy Session first and checks who may do what. It never commits
(it flushes when an id is needed): the caller (an API route or page through its session
dependency, a CLI command, a Celery task, the seeding) owns the transaction and commits once, so
what one action changes lands together or not at all; after a ServiceError the caller rolls back.
Grading tasks are noted on the session (`queue.enqueue`) and sent when it commits, so an upload
is durable before its task goes out and a rolled-back one sends nothing.

The exception is the claim protocol: `claims.claim` and `results.record_*` commit themselves,
since a claim must be visible to other workers before grading starts, and a result stands only
if it was written while the attempt still held its claim.
"""
