"""Uploads and their grading: runs with per-question and per-test results, manual grades, regrades."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.db.base import Base, utcnow
from grader.db.models.courses import Assignment
from grader.db.models.people import User
from grader.rubric_spec import MAX_CASE_NAME_CHARS, MAX_QUESTION_ID_CHARS, MAX_QUESTION_TITLE_CHARS


class SubmissionStatus(StrEnum):
    queued = "queued"
    running = "running"
    graded = "graded"
    failed = "failed"


class RunStatus(StrEnum):
    running = "running"
    completed = "completed"
    failed = "failed"  # ungradable or a rubric failure: final, never retried
    timed_out = "timed_out"  # stopped at the task's hard time limit
    lost = "lost"  # the worker died, or stopped beating, before it finished


class RegradeItemStatus(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    superseded = "superseded"  # a later request of the submission was settled before this one was graded


class Submission(Base):
    """An upload and its grading state.

    `request_no` counts grade requests (the upload, then each regrade); `attempts` counts claims
    by workers, and a worker only records a result while the count is still the one it claimed.
    `sends` counts the reconciler's sends of the current request since it was last claimed, so
    work that no worker takes is not sent forever; `give_backs` counts the current request's claims
    given back after a machine fault, so a fault that keeps coming back is not retried forever
    either. `heartbeat_at` is kept fresh by the worker grading it, so a dead attempt shows as
    stale. `rubric_hash` is the rubric version the current request is graded with: the published
    one when it was made (or the version a re-run asks for).
    """

    __tablename__ = "submissions"
    __table_args__ = (
        Index(None, "assignment_id", "user_id"),
        Index(None, "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[SubmissionStatus] = mapped_column(default=SubmissionStatus.queued)
    request_no: Mapped[int] = mapped_column(default=1)
    attempts: Mapped[int] = mapped_column(default=0)
    sends: Mapped[int] = mapped_column(default=0, server_default="0")  # by the reconciler, unclaimed
    give_backs: Mapped[int] = mapped_column(default=0, server_default="0")  # of this request's claims
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    rubric_hash: Mapped[str] = mapped_column(String(64), server_default="")

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship()


class GradingRun(Base):
    """One attempt at grading one grade request of a submission.

    (submission_id, attempt_no) is unique, and a partial unique index allows one completed run
    per (submission_id, request_no): a redelivered or duplicated task cannot record two results.
    """

    __tablename__ = "grading_runs"
    __table_args__ = (
        UniqueConstraint("submission_id", "attempt_no"),
        Index(
            "uq_grading_runs_one_result_per_request",
            "submission_id",
            "request_no",
            unique=True,
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
        Index(None, "queue", "started_at"),  # what workers did on each queue lately (services.queue_progress)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    request_no: Mapped[int]
    attempt_no: Mapped[int]
    rubric_hash: Mapped[str] = mapped_column(String(64))
    worker_host: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(255))  # the worker's task: a hard timeout names only it
    device: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    queue: Mapped[str | None] = mapped_column(String(255))  # that delivered it, with the broker's key prefix
    sent_at: Mapped[datetime | None]  # when the message it took was sent (services.queue_progress)
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    status: Mapped[RunStatus] = mapped_column(default=RunStatus.running)
    error: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    output: Mapped[str] = mapped_column(Text, default="")
    student_output: Mapped[str] = mapped_column(Text, default="")

    questions: Mapped[list[QuestionScore]] = relationship(cascade="all, delete-orphan", order_by="QuestionScore.id")
    tests: Mapped[list[TestResult]] = relationship(cascade="all, delete-orphan", order_by="TestResult.id")


class QuestionScore(Base):
    """An auto-graded question's result in one run (manual questions live in manual_grades)."""

    __tablename__ = "question_scores"
    __table_args__ = (UniqueConstraint("run_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(MAX_QUESTION_ID_CHARS))
    title: Mapped[str] = mapped_column(String(MAX_QUESTION_TITLE_CHARS))
    visibility: Mapped[str] = mapped_column(String(16))
    score: Mapped[float]
    max_score: Mapped[float]
    status: Mapped[str] = mapped_column(String(16))
    passed_tests: Mapped[int]
    total_tests: Mapped[int]
    feedback: Mapped[str] = mapped_column(Text)
    printed: Mapped[str] = mapped_column(Text, default="", server_default="")  # shown only with the question


class TestResult(Base):
    """One test case's outcome in one run: its share of the question's points, and its feedback."""

    __tablename__ = "test_results"
    __test__ = False  # not a pytest class, whatever its name

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_CASE_NAME_CHARS))
    question_id: Mapped[str] = mapped_column(String(MAX_QUESTION_ID_CHARS))
    score: Mapped[float]
    max_score: Mapped[float]
    status: Mapped[str] = mapped_column(String(16))
    feedback: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))


class ManualGrade(Base):
    """An instructor's score for one question of one submission; it overrides an auto score.

    The student's later submissions show it, marked as made on an earlier one (grader.services.scores),
    until an instructor confirms or changes it there."""

    __tablename__ = "manual_grades"
    __table_args__ = (UniqueConstraint("submission_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(MAX_QUESTION_ID_CHARS))
    score: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rubric_hash: Mapped[str] = mapped_column(String(64))
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegradeBatch(Base):
    """Progress and the diff are computed from the items, so workers never contend on this row."""

    __tablename__ = "regrade_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    rubric_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignment: Mapped[Assignment] = relationship()


class RegradeItem(Base):
    """One submission of a batch: the run it had before and the run the regrade produced (none when
    a later grade request of the submission overtook it: superseded)."""

    __tablename__ = "regrade_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "submission_id"),
        Index(None, "submission_id", "request_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("regrade_batches.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    request_no: Mapped[int]
    old_run_id: Mapped[int | None] = mapped_column(ForeignKey("grading_runs.id", ondelete="SET NULL"))
    new_run_id: Mapped[int | None] = mapped_column(ForeignKey("grading_runs.id", ondelete="SET NULL"))
    status: Mapped[RegradeItemStatus] = mapped_column(default=RegradeItemStatus.pending)
