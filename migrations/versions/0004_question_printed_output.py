"""Add question_scores.printed: what the student's code printed during each question's calls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Output used to be stored once per run, so what the code printed while a hidden question's calls
ran reached the student. It is now kept beside the question it belongs to, and shown only where
the question is.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("question_scores", sa.Column("printed", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("question_scores", "printed")
