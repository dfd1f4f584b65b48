"""Course operations: TAs, archived courses, roster identities, assignment cooldown and release

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

enrolments.role may be "ta"; enrolments keep the Canvas ID, SIS User ID, SIS Login ID and section
a roster import brought (for the gradebook export); courses.archived_at; assignments.cooldown_s
(the wait between two uploads of one student) and assignments.release_at (when the details of
after_due_date questions are shown; NULL: at the due date). A downgrade makes TAs students: the
old schema has no role for them, and a student can do the least.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
ROLE_CHECK = "ck_enrolments_courserole"
IDENTITIES = (("canvas_id", 50), ("sis_user_id", 100), ("sis_login_id", 100), ("section", 200))


def _allow_roles(*roles: str) -> None:
    """Replace the CHECK constraint on enrolments.role (SQLite rebuilds enrolments, which no table
    refers to, so nothing cascades)."""
    allowed = ", ".join(f"'{role}'" for role in roles)
    with op.batch_alter_table("enrolments") as enrolments:
        enrolments.drop_constraint(op.f(ROLE_CHECK), type_="check")
        enrolments.create_check_constraint(op.f(ROLE_CHECK), sa.text(f"role IN ({allowed})"))


def upgrade() -> None:
    _allow_roles("student", "ta", "instructor")
    for name, length in IDENTITIES:
        op.add_column("enrolments", sa.Column(name, sa.String(length), nullable=True))
    op.add_column("courses", sa.Column("archived_at", TIMESTAMP, nullable=True))
    op.add_column("assignments", sa.Column("cooldown_s", sa.Integer(), nullable=True))
    op.add_column("assignments", sa.Column("release_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+) for the tables others refer to: a rebuild would cascade.
    op.drop_column("assignments", "release_at")
    op.drop_column("assignments", "cooldown_s")
    op.drop_column("courses", "archived_at")
    for name, _ in reversed(IDENTITIES):
        op.drop_column("enrolments", name)
    op.execute(sa.text("UPDATE enrolments SET role = 'student' WHERE role = 'ta'"))
    _allow_roles("student", "instructor")
