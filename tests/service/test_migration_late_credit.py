"""Migration 0007 on a database with work in it: nothing is lost (on SQLite no table is rebuilt,
which would cascade to the submissions), old assignments keep their meaning, the counting rule
is checked by the database on both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from grader.db.session import alembic_config, make_engine

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(connection: sa.Connection) -> None:
    statements = [
        "INSERT INTO users (id, email, name, role, created_at) VALUES (1, 's@example.edu', 'S', 'student', :at)",
        "INSERT INTO courses (id, code, title, created_at) VALUES (1, 'DL', 'Deep learning', :at)",
        "INSERT INTO enrolments (id, course_id, user_id, role) VALUES (1, 1, 1, 'student')",
        "INSERT INTO assignments (id, course_id, slug, title, rubric_id, rubric_hash, device, due_at, late_policy, "
        "created_at) VALUES (1, 1, 'hw2', 'HW2', 'hw2', 'h', 'cpu', :at, 'reject', :at)",
        "INSERT INTO submissions (id, assignment_id, user_id, filename, size, sha256, content, created_at, status, "
        "request_no, attempts, updated_at) VALUES (1, 1, 1, 'hw2.py', 1, 'x', :content, :at, 'graded', 1, 1, :at)",
    ]
    for statement in statements:
        connection.execute(text(statement), {"at": AT, "content": b"x"})


def test_upgrade_keeps_the_work_and_old_rules_and_checks_the_counting_rule(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0006")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as connection:
            _seed(connection)
        command.upgrade(config, "0007")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM submissions")).scalar_one() == 1
            row = connection.execute(text("SELECT late_policy, late_credit, counts FROM assignments")).one()
            assert tuple(row) == ("reject", None, "last")
            assert connection.execute(text("SELECT grace_days FROM courses")).scalar_one() == 0
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE assignments SET counts = 'first'"))
        command.downgrade(config, "0006")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM submissions")).scalar_one() == 1
            assert connection.execute(text("SELECT late_policy FROM assignments")).scalar_one() == "reject"
    finally:
        engine.dispose()
