"""Create the grading schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Users and API tokens, courses and enrolments, assignments, submissions, grading runs with their
per-question scores, manual grades, and regrade batches with one item per submission.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def choice(name: str, *values: str) -> sa.Enum:
    """An enum stored as a string with a CHECK constraint, as grader.db.base declares it."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("code", name=op.f("uq_courses_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", choice("role", "student", "instructor", "admin"), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rubric_id", sa.String(length=100), nullable=False),
        sa.Column("rubric_hash", sa.String(length=64), nullable=False),
        sa.Column("device", choice("device", "auto", "cpu", "cuda"), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("late_policy", choice("latepolicy", "none", "reject"), nullable=False),
        sa.Column("max_submissions", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_assignments_course_id_courses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("course_id", "slug", name=op.f("uq_assignments_course_id_slug")),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", choice("courserole", "student", "instructor"), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_enrolments_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrolments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
        sa.UniqueConstraint("course_id", "user_id", name=op.f("uq_enrolments_course_id_user_id")),
    )
    op.create_index(op.f("ix_enrolments_user_id"), "enrolments", ["user_id"])
    op.create_table(
        "regrade_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rubric_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_regrade_batches_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"],
            name=op.f("fk_regrade_batches_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrade_batches")),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("status", choice("submissionstatus", "queued", "running", "graded", "failed"), nullable=False),
        sa.Column("request_no", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_submissions_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_submissions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index(op.f("ix_submissions_assignment_id_user_id"), "submissions", ["assignment_id", "user_id"])
    op.create_index(op.f("ix_submissions_status_updated_at"), "submissions", ["status", "updated_at"])
    op.create_index(op.f("ix_submissions_user_id"), "submissions", ["user_id"])
    op.create_table(
        "grading_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("request_no", sa.Integer(), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("rubric_hash", sa.String(length=64), nullable=False),
        sa.Column("worker_host", sa.String(length=255), nullable=False),
        sa.Column("device", sa.String(length=8), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column(
            "status", choice("runstatus", "running", "completed", "failed", "timed_out", "lost"), nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("max_score", sa.Double(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("student_output", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_grading_runs_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_runs")),
        sa.UniqueConstraint("submission_id", "attempt_no", name=op.f("uq_grading_runs_submission_id_attempt_no")),
    )
    op.create_index(
        "uq_grading_runs_one_result_per_request",
        "grading_runs",
        ["submission_id", "request_no"],
        unique=True,
        postgresql_where=sa.text("status = 'completed'"),
        sqlite_where=sa.text("status = 'completed'"),
    )
    op.create_table(
        "manual_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=50), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("grader_id", sa.Integer(), nullable=True),
        sa.Column("rubric_hash", sa.String(length=64), nullable=False),
        sa.Column("graded_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["grader_id"], ["users.id"], name=op.f("fk_manual_grades_grader_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_manual_grades_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_grades")),
        sa.UniqueConstraint("submission_id", "question_id", name=op.f("uq_manual_grades_submission_id_question_id")),
    )
    op.create_table(
        "question_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("max_score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("passed_tests", sa.Integer(), nullable=False),
        sa.Column("total_tests", sa.Integer(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["grading_runs.id"], name=op.f("fk_question_scores_run_id_grading_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_scores")),
        sa.UniqueConstraint("run_id", "question_id", name=op.f("uq_question_scores_run_id_question_id")),
    )
    op.create_table(
        "regrade_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("request_no", sa.Integer(), nullable=False),
        sa.Column("old_run_id", sa.Integer(), nullable=True),
        sa.Column("new_run_id", sa.Integer(), nullable=True),
        sa.Column("status", choice("regradeitemstatus", "pending", "done", "failed"), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["regrade_batches.id"],
            name=op.f("fk_regrade_items_batch_id_regrade_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["new_run_id"], ["grading_runs.id"],
            name=op.f("fk_regrade_items_new_run_id_grading_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["old_run_id"], ["grading_runs.id"],
            name=op.f("fk_regrade_items_old_run_id_grading_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_regrade_items_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrade_items")),
        sa.UniqueConstraint("batch_id", "submission_id", name=op.f("uq_regrade_items_batch_id_submission_id")),
    )
    op.create_index(op.f("ix_regrade_items_submission_id_request_no"), "regrade_items", ["submission_id", "request_no"])


def downgrade() -> None:
    for table in (
        "regrade_items",
        "question_scores",
        "manual_grades",
        "grading_runs",
        "submissions",
        "regrade_batches",
        "enrolments",
        "assignments",
        "api_tokens",
        "users",
        "courses",
    ):
        op.drop_table(table)
