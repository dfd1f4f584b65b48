"""Across a class's submissions: equal wrong answers and the feedback written for them, similarity runs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.db.base import Base, utcnow
from grader.db.models.courses import Assignment
from grader.db.models.grading import Submission
from grader.rubric_spec import (
    MAX_CASE_NAME_CHARS,
    MAX_FUNCTION_NAME_CHARS,
    MAX_MISCONCEPTION_ID_CHARS,
    MAX_QUESTION_ID_CHARS,
)


class SimilarityStatus(StrEnum):
    queued = "queued"
    running = "running"
    finished = "finished"
    failed = "failed"


class AnswerSignature(Base):
    """One student function's wrong answer in one failed test case of one run: its signature (the
    answer rounded to the check's tolerance, hashed) and the known mistake it matches, if any.
    Students whose answers share (question, case, function, signature) made the same mistake."""

    __tablename__ = "answer_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(MAX_QUESTION_ID_CHARS))
    case_name: Mapped[str] = mapped_column(String(MAX_CASE_NAME_CHARS))  # the test case, as TestResult.name
    function: Mapped[str] = mapped_column(String(MAX_FUNCTION_NAME_CHARS))
    signature: Mapped[str] = mapped_column(String(16), index=True)
    misconception: Mapped[str | None] = mapped_column(String(MAX_MISCONCEPTION_ID_CHARS))  # the known mistake's id


class GroupFeedback(Base):
    """An instructor's words for everyone whose answer has this signature: shown under the question
    on every submission whose counted run has it, those graded later included."""

    __tablename__ = "group_feedback"
    __table_args__ = (
        UniqueConstraint("assignment_id", "question_id", "case_name", "function", "signature",
                         name="uq_group_feedback_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(MAX_QUESTION_ID_CHARS))
    case_name: Mapped[str] = mapped_column(String(MAX_CASE_NAME_CHARS))
    function: Mapped[str] = mapped_column(String(MAX_FUNCTION_NAME_CHARS))
    signature: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SimilarityRun(Base):
    """A comparison of an assignment's latest submissions, pair by pair, with the handout as boilerplate.

    `done` of `total` steps (a file read, a pair compared) is its progress. `attempt` counts the
    worker attempts: a redelivered task starts over, and an older attempt's writes are refused.
    `sent_at` (its last send) and `progress_at` (its worker's last write) let the reconciler find
    a run whose message was lost, and `sends` counts its sends since a worker last began it, so a
    run that no worker takes is not sent forever.
    """

    __tablename__ = "similarity_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    threshold: Mapped[float]
    status: Mapped[SimilarityStatus] = mapped_column(default=SimilarityStatus.queued)
    attempt: Mapped[int] = mapped_column(default=0)
    submissions: Mapped[int] = mapped_column(default=0)  # compared: each student's latest that can be read as code
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    progress_at: Mapped[datetime | None]
    sends: Mapped[int] = mapped_column(default=0, server_default="0")  # by the reconciler, not begun
    queue: Mapped[str | None] = mapped_column(String(255))  # that delivered its latest attempt (broker.queue_key)

    assignment: Mapped[Assignment] = relationship()


class SimilarityPair(Base):
    """Two submissions whose score reached the run's threshold; each side's share of shared code
    and the character spans of its source that are shared (what the pair page highlights)."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (UniqueConstraint("run_id", "submission_a_id", "submission_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("similarity_runs.id", ondelete="CASCADE"))
    submission_a_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    submission_b_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    similarity_a: Mapped[float]
    similarity_b: Mapped[float]
    spans_a: Mapped[list[list[int]]] = mapped_column(JSON)
    spans_b: Mapped[list[list[int]]] = mapped_column(JSON)

    run: Mapped[SimilarityRun] = relationship()
    submission_a: Mapped[Submission] = relationship(foreign_keys=[submission_a_id])
    submission_b: Mapped[Submission] = relationship(foreign_keys=[submission_b_id])
