"""regrade_items.status may be "superseded": a later grade request of the submission overtook it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

An item whose request was overtaken (a regrade started again, a publish with a regrade, a re-run)
stayed pending, and its batch running, forever. Now it is superseded once the later request is
settled. A downgrade makes superseded items failed: the old schema has no word for them, and
pending would leave their batches running again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "ck_regrade_items_regradeitemstatus"


def _allow_statuses(*statuses: str) -> None:
    """Replace the CHECK constraint on regrade_items.status (SQLite rebuilds regrade_items, which
    no table refers to, so nothing cascades)."""
    allowed = ", ".join(f"'{status}'" for status in statuses)
    with op.batch_alter_table("regrade_items") as items:
        items.drop_constraint(op.f(STATUS_CHECK), type_="check")
        items.create_check_constraint(op.f(STATUS_CHECK), sa.text(f"status IN ({allowed})"))


def upgrade() -> None:
    _allow_statuses("pending", "done", "failed", "superseded")


def downgrade() -> None:
    op.execute(sa.text("UPDATE regrade_items SET status = 'failed' WHERE status = 'superseded'"))
    _allow_statuses("pending", "done", "failed")
