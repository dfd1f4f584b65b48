"""Add submissions.sends: the reconciler's sends of a request since it was last claimed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Work that no worker claims is failed after a bounded number of sends; the count has its own
column so that attempt numbers keep counting claims only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("sends", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("submissions", "sends")
