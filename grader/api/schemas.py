"""Response and request models: what the API promises, filtered from ORM rows and service results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ReadModel(BaseModel):
    """Built from ORM objects and service dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class UserPublic(ReadModel):
    id: int
    email: str
    name: str
    role: str


class TokenRequest(BaseModel):
    email: str
    password: str
    label: str = Field("api", max_length=100, description="a name to recognise the token by")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class AssignmentPublic(ReadModel):
    id: int
    course_id: int
    slug: str
    title: str
    rubric_id: str
    rubric_hash: str
    due_at: datetime | None
    max_submissions: int | None
    late_policy: str


class SubmissionPublic(ReadModel):
    id: int
    assignment_id: int
    user_id: int
    filename: str
    size: int
    status: str
    created_at: datetime
    updated_at: datetime


class SubmissionAccepted(ReadModel):
    """202: stored and queued; poll GET /api/submissions/{id} for the result."""

    id: int
    status: str


class QuestionFeedback(ReadModel):
    question_id: str
    title: str
    grading: str
    visibility: str
    max_score: float
    score: float | None = Field(description="null until graded")
    source: str | None = Field(description="auto (a grading run) or manual (an instructor)")
    rubric_hash: str | None
    feedback: str
    comment: str
    printed: str = Field("", description="what the code printed during this question's calls")


class SubmissionFeedback(ReadModel):
    """Status and scores; students get only the questions they may see (the services filter)."""

    submission_id: int
    status: str
    error: str | None
    late: bool
    rubric_hash: str | None
    stale: bool = Field(description="the scores come from an older rubric version")
    score: float
    max_score: float
    questions: list[QuestionFeedback]
    student_output: str = Field(description="what the code printed outside every question (while being imported)")


class SubmissionDetail(BaseModel):
    submission: SubmissionPublic
    feedback: SubmissionFeedback


class GradebookQuestion(ReadModel):
    id: str
    title: str
    grading: str
    max_score: float


class GradebookCell(ReadModel):
    score: float | None
    source: str | None
    rubric_hash: str | None


class GradebookRow(ReadModel):
    student: UserPublic
    submission_id: int | None = Field(description="the student's latest submission; null if none")
    status: str | None
    scores: dict[str, GradebookCell] = Field(description="question id -> score")
    rubric_hash: str | None
    stale: bool
    total: float


class QuestionStats(ReadModel):
    id: str
    mean: float | None
    max_score: float
    histogram: list[int] = Field(description="counts over equal slices of [0, max_score]")


class GradebookPublic(ReadModel):
    """Students x questions with totals, and per-question statistics."""

    assignment_id: int
    rubric_hash: str
    max_score: float
    questions: list[GradebookQuestion]
    rows: list[GradebookRow]
    stats: list[QuestionStats]


class ManualGradeIn(BaseModel):
    score: float = Field(ge=0)
    comment: str = Field("", max_length=10_000)


class ManualGradePublic(ReadModel):
    submission_id: int
    question_id: str
    score: float
    comment: str
    grader_id: int | None
    rubric_hash: str
    graded_at: datetime


class RegradeIn(BaseModel):
    """Leave both filters out to regrade the whole assignment."""

    reason: str = Field("", max_length=1_000)
    submission_ids: list[int] | None = Field(None, description="only these submissions")
    since: AwareDatetime | None = Field(None, description="only submissions made at or after this time")


class RegradeBatchPublic(ReadModel):
    """202: queued; poll GET /api/regrades/{id} for progress, then GET /api/regrades/{id}/diff."""

    id: int
    assignment_id: int
    reason: str
    rubric_hash: str
    created_at: datetime
