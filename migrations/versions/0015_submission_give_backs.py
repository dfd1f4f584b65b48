"""Add submissions.give_backs: the current request's claims given back after a machine fault

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

A claim given back spends no attempt, and the claim after it starts the reconciler's count of
sends again: a fault after the claim that came back every time retried the request forever. Its
give-backs are now counted, so the fault after the last one ends it failed. Rows start at zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("give_backs", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): never a rebuild of a table others refer to.
    op.drop_column("submissions", "give_backs")
