"""Response and request models: what the API promises, filtered from ORM rows and service results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    Strict,
    computed_field,
)

from grader.services.late_rules import after_of
from grader.web.deps import Id, Text


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A time with its zone, stored in UTC: 0001-01-01T00:00+14:00 has no UTC equivalent."""


def _seconds(value: object) -> object:
    return value.total_seconds() if isinstance(value, timedelta) else value


Seconds = Annotated[float, BeforeValidator(_seconds)]
"""A duration (a timedelta in the services) as seconds."""


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


class CourseIn(BaseModel):
    code: Text = Field(max_length=50, description="short and unique, e.g. DL-2026: letters, digits, '.', '_', '-'")
    title: Text = Field(max_length=200)


class CoursePublic(ReadModel):
    id: int
    code: str
    title: str
    created_at: datetime
    archived_at: datetime | None = Field(description="archived courses take no uploads or changes")


class MembershipPublic(ReadModel):
    course: CoursePublic
    role: str = Field(description="the caller's role: student, ta or instructor")


class EnrolmentIn(BaseModel):
    """Enrol someone (their account is created if there is none), or change their role."""

    email: Text = Field(max_length=320)
    role: Literal["student", "ta", "instructor"] = "student"
    name: Text = Field("", max_length=200, description="for a new account (default: the email)")


class EnrolmentPublic(ReadModel):
    user: UserPublic
    role: str
    canvas_id: str | None
    sis_user_id: str | None
    sis_login_id: str | None
    section: str | None


class RosterPagePublic(ReadModel):
    total: int = Field(description="people matching the search, over all pages")
    offset: int
    limit: int
    enrolments: list[EnrolmentPublic]


class RosterImportPublic(ReadModel):
    accounts_created: int
    enrolled: int
    changed: int = Field(description="enrolments whose role or ids changed")
    unchanged: int
    skipped: list[str] = Field(description="lines that name no one (Canvas's points-possible row, its test student)")


class InvitesIn(BaseModel):
    """Whom to send a "set your password" link: the people named, or everyone without a password."""

    emails: list[Annotated[Text, Field(max_length=320)]] | None = Field(
        None, max_length=10_000, description="people of the course (a reset for those who have a password)")
    all_without_password: bool = Field(False, description="everyone in the course without a password but you")


class InvitePublic(ReadModel):
    email: str
    name: str
    link: str = Field(description="one use, shown only now: whoever opens it sets the account's password")
    expires_at: datetime


class InvitesPublic(ReadModel):
    invites: list[InvitePublic]
    skipped: list[str] = Field(description="people without a password whose links are not yours to issue, and why")


class AssignmentSettingsIn(BaseModel):
    """An assignment's settings; in a PATCH only those sent change (null clears an optional one)."""

    title: Text = Field("", max_length=200, description="on creation, blank: the rubric's title")
    due_at: UtcDatetime | None = None
    max_submissions: int | None = Field(None, ge=1, description="per student; null: unlimited")
    cooldown_s: int | None = Field(None, ge=0, description="seconds between two uploads of one student")
    release_at: UtcDatetime | None = Field(
        None, description="when after_due_date questions' details are shown; null: at the due date"
    )
    late_credit: Text = Field("", max_length=200, description="late credit windows such as 2d=80,7d=50 (up to 2 "
                                                             "days late 80 %, up to 7 days 50 %; units d, h, m); '' "
                                                             "for none")
    late_after: Literal["full", "zero", "reject"] | None = Field(
        None, description="after the last window (the due date without windows): full credit (only without windows), "
                          "zero, or reject (uploads refused); null: zero after windows, full credit without"
    )
    counts: Literal["last", "best", "chosen"] = Field("last", description="which submission counts: the last, the "
                                                                          "best credited one, or the one the student "
                                                                          "chooses")


class AssignmentIn(AssignmentSettingsIn):
    slug: Text = Field(max_length=100, description="unique in the course, e.g. hw2")
    rubric_id: Text = Field(max_length=100, description="a folder of the rubrics folder, e.g. hw2")


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
    cooldown_s: int | None
    release_at: datetime | None
    late_policy: str = Field(description="reject: uploads after the last late window are refused")
    late_credit: str | None = Field(description="credit windows, e.g. 2d=80,7d=50; null: late work is not penalised")
    counts: str = Field(description="which submission counts: last, best or chosen (by the student)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def late_after(self) -> str:
        """After the last window (the due date without windows): full credit, zero, or reject."""
        return after_of(self.late_policy, self.late_credit)


class AssignmentProgressPublic(ReadModel):
    assignment: AssignmentPublic
    students: int = Field(description="students who submitted at least once")
    submissions: int
    graded: int
    failed: int
    queued: int = Field(description="waiting for a worker or being graded")


class AllowancePublic(ReadModel):
    """What the caller may still upload to the assignment now."""

    used: int
    limit: int | None
    left: int | None = Field(description="never negative; null: unlimited")
    limit_reached: bool
    cooldown_s: int | None
    wait_s: int = Field(description="seconds until the next upload is taken; 0: now")
    next_at: datetime | None
    due_at: datetime | None
    closes_at: datetime | None = Field(description="the last time to upload (the due date or the caller's "
                                                   "extension, the late windows, the grace days left); null: late "
                                                   "uploads are taken")
    closed: bool = Field(description="past closes_at")


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
    counts: bool = Field(description="this is the submission that counts for the assignment")
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


class GradebookRowPublic(ReadModel):
    student: UserPublic
    submission_id: int | None = Field(description="the student's submission that counts; null if none")
    status: str | None
    scores: dict[str, GradebookCell] = Field(description="question id -> raw score")
    rubric_hash: str | None
    stale: bool
    total: float = Field(description="the raw total")
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


class ExtensionIn(BaseModel):
    due_at: UtcDatetime = Field(description="the student's own due date, after the assignment's")
    reason: Text = Field("", max_length=1_000)


class ExtensionPublic(ReadModel):
    assignment_id: int
    student: UserPublic = Field(validation_alias="user")
    due_at: datetime
    reason: str
    granted_by_id: int | None
    granted_at: datetime


class ChoicePublic(ReadModel):
    assignment_id: int
    user_id: int
    submission_id: int = Field(description="the submission that counts (assignments that count `chosen`)")
    chosen_at: datetime


class GraceDaysIn(BaseModel):
    grace_days: Annotated[int, Strict()] = Field(ge=0, description="per student, spent by late work")


class AssignmentRef(ReadModel):
    id: int
    slug: str
    title: str


class GraceEntryPublic(ReadModel):
    student: UserPublic
    assignment: AssignmentRef
    submission_id: int
    late_by_s: Seconds = Field(validation_alias="late_by")
    days: int = Field(description="grace days spent on this assignment")
    left: int = Field(description="days left after it")


class GraceLeftPublic(BaseModel):
    student: UserPublic
    days_left: int


class GraceLedgerPublic(BaseModel):
    """Oldest assignment first (by due date); each takes the fewest days that give it its best credit."""

    course_id: int
    grace_days: int
    entries: list[GraceEntryPublic]
    left: list[GraceLeftPublic]


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


class QuestionRefPublic(ReadModel):
    id: str
    title: str
    points: float


class PointsChangePublic(ReadModel):
    question_id: str
    title: str
    old: float
    new: float


class RubricDiffPublic(ReadModel):
    """From the published version to the folder on disk: what publishing would change."""

    added: list[QuestionRefPublic]
    removed: list[QuestionRefPublic]
    points: list[PointsChangePublic]
    settings: list[str]
    files: list[str]
    old_total: float
    new_total: float


class RubricStatusPublic(BaseModel):
    published_hash: str
    on_disk_hash: str | None = Field(description="null: the folder on disk cannot be used (`disk_error` says why)")
    disk_error: str
    changed: bool = Field(description="the folder on disk is not the published version")
    diff: RubricDiffPublic | None
    orphaned_grades: int = Field(description="manual grades of questions publishing removes: kept, no longer counted")
    submissions: int = Field(description="what a regrade of the whole assignment would grade again")


class PublishIn(BaseModel):
    expected_hash: Text | None = Field(
        None, max_length=64, description="the on-disk version you reviewed: 409 if the folder has changed since"
    )
    regrade: bool = Field(False, description="then regrade every submission with the new version")


class PublishedPublic(BaseModel):
    """The status as it was before publishing (with the diff it applied), and the regrade if asked."""

    published_hash: str
    before: RubricStatusPublic
    regrade_batch_id: int | None


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
