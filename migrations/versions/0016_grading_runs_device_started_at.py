"""Index grading_runs on (device, started_at): when each queue last moved

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

The reconciler asks, at each of its runs, when a worker last took work from each queue (the latest
start of a run on that queue's device), to tell work waiting its turn behind a busy queue from
work no worker takes. The index makes that a lookup instead of a scan of every run ever made.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_grading_runs_device_started_at"), "grading_runs", ["device", "started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_grading_runs_device_started_at"), table_name="grading_runs")
