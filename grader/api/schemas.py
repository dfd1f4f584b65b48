"""Response and request models: what the API promises, filtered from ORM rows and service results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, RootModel, Strict

from grader.web.deps import Id, Text


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A time with its zone, stored in UTC: 0001-01-01T00:00+14:00 has no UTC equivalent."""


class ErrorMessage(BaseModel):
    """The body of every error the services or the authentication answer with."""

    detail: str = Field(description="what went wrong, for a person to read")


class RequestIssue(BaseModel):
    loc: list[str | int] = Field(description="where: body, query or path, then the field")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. int_parsing")


class RequestInvalid(BaseModel):
    """422 from request validation: the request does not match the documented parameters."""

    detail: list[RequestIssue]


class Unprocessable(RootModel[RequestInvalid | ErrorMessage]):
    """422: a list of issues from request validation, or one message from a service's own check."""


class ReadModel(BaseModel):
    """Built from ORM objects and service dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class UserPublic(ReadModel):
    id: int
    email: str
    name: str
    role: str


class TokenRequest(BaseModel):
    email: Text
    password: str
    label: Text = Field("api", max_length=100, description="a name to recognise the token by")
    expires_days: int | None = Field(
        None, ge=1, description="days until it expires (default, and at most: the server's token lifetime)"
    )


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    id: int = Field(description="to revoke it: DELETE /api/auth/tokens/{id}")
    expires_at: datetime


class TokenInfo(ReadModel):
    """An API token without its secret (never stored)."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime


class AssignmentPublic(ReadModel):
    id: int
    course_id: int
    course_code: str
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
    group_feedback: list[str] = Field(
        default_factory=list, description="the course staff's feedback on a wrong answer this submission gave"
    )


class SubmissionFeedbackPublic(ReadModel):
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
    feedback: SubmissionFeedbackPublic


class GradebookQuestionPublic(ReadModel):
    id: str
    title: str
    grading: str
    max_score: float


class GradebookCell(ReadModel):
    score: float | None
    source: str | None
    rubric_hash: str | None


class GradebookRowPublic(ReadModel):
    student: UserPublic
    submission_id: int | None = Field(description="the student's latest submission; null if none")
    status: str | None
    scores: dict[str, GradebookCell] = Field(description="question id -> score")
    rubric_hash: str | None
    stale: bool
    total: float


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


class RegradeIn(BaseModel):
    """Leave both filters out to regrade the whole assignment."""

    reason: Text = Field("", max_length=1_000)
    submission_ids: list[Id] | None = Field(None, description="only these submissions")
    since: UtcDatetime | None = Field(None, description="only submissions made at or after this time")


class RegradeBatchPublic(ReadModel):
    """202: queued; poll GET /api/regrades/{id} for progress, then GET /api/regrades/{id}/diff."""

    id: int
    assignment_id: int
    reason: str
    rubric_hash: str
    created_at: datetime


class SimilarityIn(BaseModel):
    threshold: Annotated[float, Strict()] = Field(  # a number: not true, not "0.6"
        0.6, allow_inf_nan=False,
        description="list the pairs in which either side shares at least this share of its code (above 0, at most 1)",
    )


class PairSidePublic(BaseModel):
    submission_id: int
    student: str = Field(description="the student's email")
    filename: str
    similarity: float = Field(description="the share of this side's code that the other side has too")
    source: str = Field(description="the code compared (a notebook's code cells)")
    spans: list[tuple[int, int]] = Field(description="[start, end) character offsets of the shared fragments")


class SimilarityPairPublic(BaseModel):
    id: int
    run_id: int
    score: float = Field(description="the larger of the two sides' similarity")
    a: PairSidePublic
    b: PairSidePublic


class GroupKeyFields(BaseModel):
    """Which wrong answer: one student function's answer, rounded, in one test case."""

    question_id: Text = Field(max_length=50)
    case_name: Text = Field(max_length=300, description="the test case, e.g. test_conv_output_size[L9-K3-S2-P1-D1]")
    function: Text = Field(max_length=100, description="the student function that gave the answer")
    signature: str = Field(pattern=r"^[0-9a-f]{16}$", description="the answer rounded to the check's tolerance, hashed")


class GroupFeedbackIn(GroupKeyFields):
    text: Text = Field(min_length=1, max_length=10_000, description="shown to every student in the group")


class GroupFeedbackPublic(ReadModel):
    question_id: str
    case_name: str
    function: str
    signature: str
    text: str
    author_id: int | None
    created_at: datetime
    updated_at: datetime


class GroupMemberPublic(ReadModel):
    student: UserPublic
    submission_id: int = Field(description="the student's latest submission")


class AnswerGroupPublic(ReadModel):
    """Students whose latest submissions gave the same wrong answer in one test case."""

    question_id: str
    case_name: str
    function: str
    signature: str
    misconception: str | None = Field(description="the rubric's known mistake it matches; null if unnamed")
    size: int
    example_submission_id: int
    members: list[GroupMemberPublic]
    feedback: GroupFeedbackPublic | None
