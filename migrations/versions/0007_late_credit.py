"""Add late credit windows, extensions, grace days and the counting rule

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

assignments.late_credit (windows such as '2d=80,7d=50'; NULL: late work is not penalised, as
before) and assignments.counts (last, best or chosen); courses.grace_days; per-student
extensions; the submission a student marked as counting.
No table is rebuilt: on SQLite a rebuild of assignments would cascade the delete of the old
table to every submission.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
COUNTING_RULES = ("last", "best", "chosen")


def _add_counts() -> None:
    """assignments.counts with its CHECK. Alembic leaves the CHECK out on SQLite (it would rebuild
    the table for it), but SQLite's own ADD COLUMN takes one."""
    if op.get_bind().dialect.name == "sqlite":
        allowed = ", ".join(f"'{rule}'" for rule in COUNTING_RULES)
        op.execute("ALTER TABLE assignments ADD COLUMN counts VARCHAR(16) DEFAULT 'last' NOT NULL "
                   f"CONSTRAINT ck_assignments_countingrule CHECK (counts IN ({allowed}))")
        return
    rule = sa.Enum(*COUNTING_RULES, name="countingrule", native_enum=False, create_constraint=True, length=16)
    op.add_column("assignments", sa.Column("counts", rule, server_default="last", nullable=False))


def upgrade() -> None:
    op.add_column("assignments", sa.Column("late_credit", sa.String(length=200), nullable=True))
    _add_counts()
    op.add_column("courses", sa.Column("grace_days", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE",
                                name=op.f("fk_extensions_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_extensions_user_id_users")),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_extensions_granted_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extensions")),
        sa.UniqueConstraint("assignment_id", "user_id", name=op.f("uq_extensions_assignment_id_user_id")),
    )
    op.create_index(op.f("ix_extensions_user_id"), "extensions", ["user_id"])
    op.create_table(
        "chosen_submissions",
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("chosen_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE",
                                name=op.f("fk_chosen_submissions_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_chosen_submissions_user_id_users")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE",
                                name=op.f("fk_chosen_submissions_submission_id_submissions")),
        sa.PrimaryKeyConstraint("assignment_id", "user_id", name=op.f("pk_chosen_submissions")),
    )
    op.create_index(op.f("ix_chosen_submissions_submission_id"), "chosen_submissions", ["submission_id"])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): never a rebuild of a table others refer to.
    op.drop_index(op.f("ix_chosen_submissions_submission_id"), table_name="chosen_submissions")
    op.drop_table("chosen_submissions")
    op.drop_index(op.f("ix_extensions_user_id"), table_name="extensions")
    op.drop_table("extensions")
    op.drop_column("courses", "grace_days")
    op.drop_column("assignments", "counts")
    op.drop_column("assignments", "late_credit")
