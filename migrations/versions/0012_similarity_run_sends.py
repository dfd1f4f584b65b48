"""Add similarity_runs.sent_at, progress_at and sends: the reconciler sends a stuck run again

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

A run was sent once, when it was started: a lost message left it queued (or running) forever.
sent_at is its last send and progress_at its worker's last write, so the reconciler finds a run
whose message was lost; sends counts its sends since a worker last began it, so a run that no
worker takes ends failed. Existing runs were sent when they were made, and last heard of from a
worker when it began them: a run stuck before this is sent again by the reconciler's next run.
No table is rebuilt: on SQLite a rebuild of similarity_runs would cascade the delete of the old
table to its pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
STAMP_EXISTING_RUNS = "UPDATE similarity_runs SET sent_at = created_at, progress_at = started_at"


def _add_sent_at() -> None:
    """sent_at NOT NULL, without a rebuild. SQLite's ADD COLUMN takes NOT NULL only with a constant
    default (every row is stamped next, and the models always write it); PostgreSQL adds it
    nullable and is told NOT NULL once every row has a value."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE similarity_runs ADD COLUMN sent_at DATETIME DEFAULT '1970-01-01 00:00:00.000000' "
                   "NOT NULL")
        op.execute(STAMP_EXISTING_RUNS)
        return
    op.add_column("similarity_runs", sa.Column("sent_at", TIMESTAMP, nullable=True))
    op.execute(STAMP_EXISTING_RUNS)
    op.alter_column("similarity_runs", "sent_at", existing_type=TIMESTAMP, nullable=False)


def upgrade() -> None:
    op.add_column("similarity_runs", sa.Column("progress_at", TIMESTAMP, nullable=True))
    op.add_column("similarity_runs", sa.Column("sends", sa.Integer(), nullable=False, server_default="0"))
    _add_sent_at()


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): never a rebuild of a table others refer to.
    op.drop_column("similarity_runs", "sends")
    op.drop_column("similarity_runs", "progress_at")
    op.drop_column("similarity_runs", "sent_at")
