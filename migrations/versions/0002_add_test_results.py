"""Add test_results: each test case's outcome per grading run

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Question scores stay as they are; this adds the per-test rows under them (name, share of the
question's points, feedback), so an instructor can see which case of a question failed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("question_id", sa.String(length=50), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("max_score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["grading_runs.id"], name=op.f("fk_test_results_run_id_grading_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
    )
    op.create_index(op.f("ix_test_results_run_id"), "test_results", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_test_results_run_id"), table_name="test_results")
    op.drop_table("test_results")
