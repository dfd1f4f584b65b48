"""Add answer_signatures and group_feedback: wrong answers that many students share

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Each failed test case of a run keeps, per student function, the signature of its wrong answer
and the known mistake it matches, so the staff can see which students gave the same wrong answer.
An instructor's feedback for such a group is keyed by the answer, not by the submissions, so it
reaches every submission that gives that answer, those graded later included.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "answer_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=50), nullable=False),
        sa.Column("case_name", sa.String(length=300), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("signature", sa.String(length=16), nullable=False),
        sa.Column("misconception", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["grading_runs.id"], name=op.f("fk_answer_signatures_run_id_grading_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_signatures")),
    )
    op.create_index(op.f("ix_answer_signatures_run_id"), "answer_signatures", ["run_id"])
    op.create_index(op.f("ix_answer_signatures_signature"), "answer_signatures", ["signature"])
    op.create_table(
        "group_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=50), nullable=False),
        sa.Column("case_name", sa.String(length=300), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("signature", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"], name=op.f("fk_group_feedback_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_group_feedback_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_feedback")),
        sa.UniqueConstraint("assignment_id", "question_id", "case_name", "function", "signature",
                            name=op.f("uq_group_feedback_key")),
    )


def downgrade() -> None:
    op.drop_table("group_feedback")
    op.drop_index(op.f("ix_answer_signatures_signature"), table_name="answer_signatures")
    op.drop_index(op.f("ix_answer_signatures_run_id"), table_name="answer_signatures")
    op.drop_table("answer_signatures")
