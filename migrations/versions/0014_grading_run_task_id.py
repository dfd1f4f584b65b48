"""Add grading_runs.task_id: the worker's task that made the run

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

A task killed at its hard time limit is known by its id only (the pool process is gone): it closed
the submission's current run, which after a takeover or a regrade was another worker's live
attempt. Now it closes the run its own task made. Runs made before this have no task id, and a
timeout of their tasks finds nothing to close; the reconciler settles them as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("grading_runs", sa.Column("task_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): never a rebuild of a table others refer to.
    op.drop_column("grading_runs", "task_id")
