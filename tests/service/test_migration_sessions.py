"""Migration 0003 on a database that has accounts: old tokens get an expiry, users a session version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import column, select, table, text

from grader.db.base import UTCDateTime
from grader.db.session import alembic_config, make_engine

TOKEN_GRACE = timedelta(days=90)  # what an existing token is given on upgrade


def test_existing_tokens_expire_and_sessions_start_at_version_zero(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0002")
    engine = make_engine(empty_database)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, email, name, role, created_at) "
                                    "VALUES (1, 'old@example.edu', 'Old', 'student', :at)"), {"at": created})
            connection.execute(text("INSERT INTO api_tokens (user_id, label, token_hash, created_at) "
                                    "VALUES (1, 'cli', :hash, :at)"), {"hash": "a" * 64, "at": created})
        command.upgrade(config, "0003")
        with engine.connect() as connection:
            version = connection.execute(text("SELECT session_version FROM users")).scalar_one()
            expires_at = connection.execute(select(column("expires_at", UTCDateTime()))
                                            .select_from(table("api_tokens"))).scalar_one()
        assert version == 0
        assert expires_at is not None
        assert abs(expires_at - (datetime.now(UTC) + TOKEN_GRACE)) < timedelta(minutes=5)
        command.downgrade(config, "0002")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT label FROM api_tokens")).scalar_one() == "cli"
    finally:
        engine.dispose()
