"""Add session versions and API token expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

users.session_version is kept in each login's session cookie and raised on logout, so a copied
cookie stops working. api_tokens.expires_at: every token expires; the tokens that exist when this
runs get 90 days from now (the default lifetime of a new token), so no script stops at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
EXISTING_TOKENS_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    op.add_column("users", sa.Column("session_version", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("api_tokens", sa.Column("expires_at", TIMESTAMP, nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires_at", TIMESTAMP))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + EXISTING_TOKENS_LIFETIME))
    # SQLite rebuilds the table for this; api_tokens is safe to rebuild, no table refers to it.
    with op.batch_alter_table("api_tokens") as api_tokens:
        api_tokens.alter_column("expires_at", existing_type=TIMESTAMP, nullable=False)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), never a rebuild of users: dropping the old users table
    # would cascade the delete to everything that refers to it.
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("users", "session_version")
