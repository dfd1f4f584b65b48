"""Add similarity_runs and similarity_pairs: code shared between an assignment's submissions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

A run compares the latest submission of every student with every other (the handout as
boilerplate) and keeps its progress; the pairs at or above its threshold are kept with the
character spans of the shared code, for the instructors' side-by-side view.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
STATUS = sa.Enum("queued", "running", "finished", "failed", name="similaritystatus", native_enum=False,
                 create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "similarity_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_similarity_runs_assignment_id_assignments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_similarity_runs_requested_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_runs")),
    )
    op.create_index(op.f("ix_similarity_runs_assignment_id"), "similarity_runs", ["assignment_id"])
    op.create_table(
        "similarity_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("submission_a_id", sa.Integer(), nullable=False),
        sa.Column("submission_b_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("similarity_a", sa.Double(), nullable=False),
        sa.Column("similarity_b", sa.Double(), nullable=False),
        sa.Column("spans_a", sa.JSON(), nullable=False),
        sa.Column("spans_b", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["similarity_runs.id"],
                                name=op.f("fk_similarity_pairs_run_id_similarity_runs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_a_id"], ["submissions.id"],
                                name=op.f("fk_similarity_pairs_submission_a_id_submissions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_b_id"], ["submissions.id"],
                                name=op.f("fk_similarity_pairs_submission_b_id_submissions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_pairs")),
        sa.UniqueConstraint("run_id", "submission_a_id", "submission_b_id",
                            name=op.f("uq_similarity_pairs_run_id_submission_a_id_submission_b_id")),
    )
    op.create_index(op.f("ix_similarity_pairs_submission_a_id"), "similarity_pairs", ["submission_a_id"])
    op.create_index(op.f("ix_similarity_pairs_submission_b_id"), "similarity_pairs", ["submission_b_id"])


def downgrade() -> None:
    op.drop_table("similarity_pairs")
    op.drop_table("similarity_runs")
