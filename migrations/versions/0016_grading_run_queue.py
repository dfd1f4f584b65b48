"""Add grading_runs.queue, .sent_at and similarity_runs.queue: what workers did on each queue

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

The reconciler tells work waiting its turn behind a busy queue from work whose message is gone or
that no worker takes (grader.services.queue_progress): it reads, per queue, the latest claim and
the latest send among the work claimed since a time. A run now keeps the queue that delivered it
(its name after the broker's key prefix: deployments that share a database keep their queues
apart) and when the message it took was sent, and a similarity run the queue of its latest attempt;
older rows have none (NULL), which reads as not known. The index makes the reading a range of
recent runs instead of a scan of every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("grading_runs", sa.Column("queue", sa.String(length=255), nullable=True))
    op.add_column("grading_runs", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_grading_runs_queue_started_at"), "grading_runs", ["queue", "started_at"])
    op.add_column("similarity_runs", sa.Column("queue", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("similarity_runs", "queue")
    op.drop_index(op.f("ix_grading_runs_queue_started_at"), table_name="grading_runs")
    # Plain DROP COLUMN (SQLite 3.35+): never a rebuild of a table others refer to.
    op.drop_column("grading_runs", "sent_at")
    op.drop_column("grading_runs", "queue")
