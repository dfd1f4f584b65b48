"""Tests of the service layer on real PostgreSQL, Redis, SQLite and Celery workers."""
