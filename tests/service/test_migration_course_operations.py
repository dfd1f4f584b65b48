"""Migration 0006 on a database with a course: enrolments keep their rows, may be TAs afterwards,
and a downgrade makes TAs students (the old schema has no role for them)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from grader.db.session import alembic_config, make_engine


def test_enrolments_gain_the_ta_role_and_lose_it_on_downgrade(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0005")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, email, name, role, created_at) "
                                    "VALUES (1, 'ta@uni.edu', 'Tara', 'student', '2026-01-01 00:00:00+00')"))
            connection.execute(text("INSERT INTO courses (id, code, title, created_at) "
                                    "VALUES (1, 'DL', 'Deep learning', '2026-01-01 00:00:00+00')"))
            connection.execute(text("INSERT INTO enrolments (course_id, user_id, role) VALUES (1, 1, 'student')"))
        command.upgrade(config, "0006")
        with engine.begin() as connection:
            connection.execute(text("UPDATE enrolments SET role = 'ta', canvas_id = '4711', section = 'A'"))
            assert connection.execute(text("SELECT archived_at FROM courses")).scalar_one() is None
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE enrolments SET role = 'grader'"))

        command.downgrade(config, "0005")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT role FROM enrolments")).scalar_one() == "student"
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE enrolments SET role = 'ta'"))
    finally:
        engine.dispose()
