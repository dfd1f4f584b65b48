"""The gradebook: students x questions, with per-question statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from grader.api.schemas.accounts import UserPublic
from grader.api.schemas.common import CappedFrom, ReadModel, Seconds


class GradebookQuestionPublic(ReadModel):
    id: str
    title: str
    grading: str
    max_score: float


class GradebookCell(ReadModel):
    score: float | None
    source: str | None
    rubric_hash: str | None
    carried_from: int | None = Field(None, description="the earlier submission whose manual grade counts here")
    capped_from: CappedFrom = None


class GradebookRowPublic(ReadModel):
    student: UserPublic
    submission_id: int | None = Field(description="the student's submission that counts; null if none")
    status: str | None
    scores: dict[str, GradebookCell] = Field(description="question id -> raw score")
    rubric_hash: str | None
    stale: bool
    total: float | None = Field(description="the raw total; null until graded")
    due_at: datetime | None = Field(description="the student's own due date")
    extended: bool
    late_by_s: Seconds = Field(validation_alias="late_by", description="seconds after the due date")
    grace_days: int
    credit_percent: float
    credited_total: float | None = Field(description="total x credit_percent; null until graded")


class QuestionStatsPublic(ReadModel):
    id: str
    mean: float | None
    max_score: float
    histogram: list[int] = Field(description="counts over equal slices of [0, max_score]")


class GradebookPublic(ReadModel):
    """Students x questions with totals, and per-question statistics."""

    assignment_id: int
    rubric_hash: str
    max_score: float
    questions: list[GradebookQuestionPublic]
    rows: list[GradebookRowPublic]
    stats: list[QuestionStatsPublic]
