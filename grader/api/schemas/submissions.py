"""Submissions and what they earn: feedback, manual grades, the submission a student chose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict

from grader.api.schemas.common import CappedFrom, ReadModel, Seconds
from grader.web.deps import Text


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
    source: str | None = Field(description="auto (a grading run), manual (an instructor) or carried (an "
                                           "instructor, on an earlier submission: to be confirmed)")
    rubric_hash: str | None
    feedback: str = Field(description="the grading run's feedback, also when a manual grade overrides its score")
    comment: str
    printed: str = Field("", description="what the code printed during this question's calls")
    auto_score: float | None = Field(None, description="the grading run's score, also when a manual grade overrides it")
    carried_from: int | None = Field(None, description="the earlier submission whose manual grade counts here")
    capped_from: CappedFrom = None
    group_feedback: list[str] = Field(
        default_factory=list, description="the course staff's feedback on a wrong answer this submission gave"
    )


class SubmissionFeedbackPublic(ReadModel):
    """Status and scores; students get only the questions they may see (the services filter)."""

    submission_id: int
    status: str
    error: str | None
    late: bool
    due_at: datetime | None = Field(description="the student's own due date (an extension's, if later)")
    late_by_s: Seconds = Field(validation_alias="late_by", description="seconds after the due date")
    grace_days: int = Field(description="grace days this submission takes if it counts")
    credit_percent: float = Field(description="the share of the score it earns, after grace days")
    counts: bool | None = Field(description="this is the submission that counts for the assignment; null for a "
                                "student under `best` while it turns on questions not shown to them")
    rubric_hash: str | None
    stale: bool = Field(description="the scores come from an older rubric version")
    score: float
    credited_score: float = Field(description="score x credit_percent")
    max_score: float
    questions: list[QuestionFeedback]
    student_output: str = Field(description="what the code printed outside every question (while being imported)")


class SubmissionDetail(BaseModel):
    submission: SubmissionPublic
    feedback: SubmissionFeedbackPublic


class ChoicePublic(ReadModel):
    assignment_id: int
    user_id: int
    submission_id: int = Field(description="the submission that counts (assignments that count `chosen`)")
    chosen_at: datetime


class ManualGradeIn(BaseModel):
    score: Annotated[float, Strict()] = Field(ge=0, allow_inf_nan=False)  # a number: not true, not "3"
    comment: Text = Field("", max_length=10_000)


class ManualGradePublic(ReadModel):
    submission_id: int
    question_id: str
    score: float
    comment: str
    grader_id: int | None
    rubric_hash: str
    graded_at: datetime
