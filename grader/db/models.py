"""The schema: people and courses, uploads, grading runs and their scores, manual grades, regrades,
similarity runs.

A submission's score is never stored on the submission: it is read from its grading runs (one
row per attempt, each naming the rubric hash that produced it) plus manual grades, so a regrade
adds runs and history is kept. Each run stores its per-question results and each test case
(TestResult: passed or failed, with its share of the question's points), so a changed score can
be traced to the cases behind it. A failed case's wrong answers are kept too (AnswerSignature),
so equal wrong answers of many students can be found and answered at once (GroupFeedback).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.db.base import Base, utcnow


class Role(StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"


class CourseRole(StrEnum):
    """What one may do in a course: grader.services.permissions says which role may do what."""

    student = "student"
    ta = "ta"
    instructor = "instructor"


class LatePolicy(StrEnum):
    none = "none"  # late uploads are accepted (and shown as late)
    reject = "reject"  # uploads after the due date are refused


class CountingRule(StrEnum):
    """Which of a student's submissions counts for the assignment."""

    last = "last"
    best = "best"  # the highest credited score
    chosen = "chosen"  # the one the student marked (their last until they mark one)


class Device(StrEnum):
    """The device an assignment's rubric asks for (its `RequestedDevice`), as stored."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


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


class SimilarityStatus(StrEnum):
    queued = "queued"
    running = "running"
    finished = "finished"
    failed = "failed"


class RegradeItemStatus(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class User(Base):
    """`session_version` is written into each login's session cookie; logging out raises it, which
    ends every session cookie of the account, including copies of it."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role]
    password_hash: Mapped[str | None] = mapped_column(String(200))
    session_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """Only the SHA-256 of a token is kept: tokens are random, so a slow hash would add nothing.
    Every token expires; a revoked token's row is deleted."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()


class Invitation(Base):
    """A one-time link that lets its account choose a password (roster imports make accounts
    without one). Only the SHA-256 of its token is kept, as for API tokens; an account has at
    most one (a new link replaces the old), and using it deletes it."""

    __tablename__ = "invitations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()


class Course(Base):
    """An archived course keeps everything readable and gradable, but takes no more uploads and no
    changes to its roster or assignments."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    grace_days: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # per student, all assignments
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class Enrolment(Base):
    """The student's identities in the university's systems, as the roster import found them, are
    kept here so the gradebook export matches Canvas's rows (Canvas ID, SIS User ID, SIS Login ID)."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[CourseRole]
    # The student's ids in the campus systems, for the Canvas gradebook CSV.
    canvas_id: Mapped[str | None] = mapped_column(String(50))
    sis_user_id: Mapped[str | None] = mapped_column(String(100))
    sis_login_id: Mapped[str | None] = mapped_column(String(100))
    section: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class RubricVersion(Base):
    """The files of one rubric version (a deterministic archive, `grader.rubric_archive`), stored
    under their hash: every version an assignment has published, so any score can be re-run."""

    __tablename__ = "rubric_versions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    archive: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """`rubric_hash` is the published rubric version: what new submissions and regrades are graded
    with, whatever the folder on disk holds now (`grader rubric publish` moves it).

    `cooldown_s`: the wait between two uploads of one student (None or 0: none). `release_at`:
    when students see the details of after_due_date questions (None: at the due date).
    Late work: `late_credit` holds credit windows ('2d=80,7d=50'), NULL when late work is not
    penalised; `late_policy` reject refuses uploads after the last window (grader.services.late_rules).
    """

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    rubric_id: Mapped[str] = mapped_column(String(100))
    rubric_hash: Mapped[str] = mapped_column(String(64))
    device: Mapped[Device]
    due_at: Mapped[datetime | None]
    late_policy: Mapped[LatePolicy]
    late_credit: Mapped[str | None] = mapped_column(String(200))
    counts: Mapped[CountingRule] = mapped_column(default=CountingRule.last, server_default=CountingRule.last.value)
    max_submissions: Mapped[int | None]
    cooldown_s: Mapped[int | None]
    release_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()

    @property
    def course_code(self) -> str:
        """The course's code, by which students name it (the API's assignment answers carry it)."""
        return self.course.code


class Submission(Base):
    """An upload and its grading state.

    `request_no` counts grade requests (the upload, then each regrade); `attempts` counts claims
    by workers, and a worker only records a result while the count is still the one it claimed.
    `sends` counts the reconciler's sends of the current request since it was last claimed, so
    work that no worker takes is not sent forever. `heartbeat_at` is kept fresh by the worker
    grading it, so a dead attempt shows as stale. `rubric_hash` is the rubric version the current
    request is graded with: the published one when it was made (or the version a re-run asks for).
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
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    rubric_hash: Mapped[str] = mapped_column(String(64), server_default="")

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship()


class Extension(Base):
    """A due date of one student's own for one assignment; late credit counts from it."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ChosenSubmission(Base):
    """The submission a student marked as the one that counts (assignments that count `chosen`)."""

    __tablename__ = "chosen_submissions"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    request_no: Mapped[int]
    attempt_no: Mapped[int]
    rubric_hash: Mapped[str] = mapped_column(String(64))
    worker_host: Mapped[str] = mapped_column(String(255))
    device: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
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
    question_id: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
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
    name: Mapped[str] = mapped_column(String(300))
    question_id: Mapped[str] = mapped_column(String(50))
    score: Mapped[float]
    max_score: Mapped[float]
    status: Mapped[str] = mapped_column(String(16))
    feedback: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))


class AnswerSignature(Base):
    """One student function's wrong answer in one failed test case of one run: its signature (the
    answer rounded to the check's tolerance, hashed) and the known mistake it matches, if any.
    Students whose answers share (question, case, function, signature) made the same mistake."""

    __tablename__ = "answer_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(50))
    case_name: Mapped[str] = mapped_column(String(300))  # the test case, as TestResult.name
    function: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(16), index=True)
    misconception: Mapped[str | None] = mapped_column(String(100))  # the rubric's id of the known mistake


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
    question_id: Mapped[str] = mapped_column(String(50))
    case_name: Mapped[str] = mapped_column(String(300))
    function: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManualGrade(Base):
    """An instructor's score for one question of one submission; it overrides an auto score.

    The student's later submissions show it, marked as made on an earlier one (grader.services.scores),
    until an instructor confirms or changes it there."""

    __tablename__ = "manual_grades"
    __table_args__ = (UniqueConstraint("submission_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(50))
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
    """One submission of a batch: the run it had before and the run the regrade produced."""

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


class SimilarityRun(Base):
    """A comparison of an assignment's latest submissions, pair by pair, with the handout as boilerplate.

    `done` of `total` steps (a file read, a pair compared) is its progress. `attempt` counts the
    worker attempts: a redelivered task starts over, and an older attempt's writes are refused.
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
