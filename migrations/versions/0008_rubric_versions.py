"""Add rubric_versions (every published rubric's files) and submissions.rubric_hash

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Workers used to grade with whatever the rubric folder held when they got to a submission. Each
version an assignment publishes is now stored under its hash, and each grade request names the
version it is graded with: existing submissions get their assignment's current version. The
versions themselves are stored on first use (an unchanged folder is that version) or by
`grader rubric publish`; migrations never read the rubrics folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rubric_versions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_rubric_versions")),
    )
    op.add_column("submissions", sa.Column("rubric_hash", sa.String(length=64), nullable=False, server_default=""))
    op.execute(
        "UPDATE submissions SET rubric_hash = "
        "(SELECT assignments.rubric_hash FROM assignments WHERE assignments.id = submissions.assignment_id)"
    )


def downgrade() -> None:
    op.drop_column("submissions", "rubric_hash")
    op.drop_table("rubric_versions")
