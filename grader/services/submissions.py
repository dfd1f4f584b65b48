"""Uploads: validated and stored, then sent to the graders once the caller commits; and what a
viewer may see of them (students their own, without hidden results)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import (
    Assignment,
    CountingRule,
    Enrolment,
    GradingRun,
    Role,
    Submission,
    SubmissionStatus,
    User,
)
from grader.services import answer_groups, queue, rubrics, standings
from grader.services.allowance import allowance
from grader.services.courses import require_open
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.permissions import Permission, can_view_all, course_role, require_view_all, roles_granting
from grader.services.run_errors import COULD_NOT_RUN, stopping_failure
from grader.services.scores import ScoredQuestion, SubmissionScore, score_submissions
from grader.services.standings import Attempt, Standing
from grader.submission import SUPPORTED_SUFFIXES, SubmissionError, prepare_source

MAX_FILENAME_CHARS = 255
ACTIVE_STATUSES = frozenset({SubmissionStatus.queued, SubmissionStatus.running})


def _clean_filename(filename: str) -> str:
    """The base name only (browsers may send a Windows path), in printable characters only (a NUL
    cannot be stored on PostgreSQL, a direction override disguises the suffix), at most 255."""
    name = PurePosixPath(PureWindowsPath(filename).name).name
    return "".join(char for char in name if char.isprintable())[-MAX_FILENAME_CHARS:]


def _validate(filename: str, data: bytes) -> None:
    """Reject what cannot be graded before anything is stored, each with its own status."""
    if PurePosixPath(filename).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise Rejected(415, f"{filename!r}: upload a .py file or a .ipynb notebook")
    limit = get_settings().max_upload_bytes
    if len(data) > limit:
        raise Rejected(413, f"{filename!r} is {len(data):,} bytes; the limit is {limit:,} bytes")
    try:
        prepare_source(filename, data)
    except SubmissionError as exc:
        raise Rejected(422, str(exc)) from exc
    except Exception as exc:  # it only reads the bytes: whatever else it raises is still about them
        raise Rejected(422, f"{filename!r} cannot be read: {type(exc).__name__}: {exc}") from exc


def submit(db: Session, user: User, assignment: Assignment, filename: str, data: bytes) -> Submission:
    """Store a valid upload; its grading task is sent once the caller commits.

    A rejected upload may leave its row flushed: the caller rolls back on any ServiceError.
    """
    enrolment = db.scalar(
        select(Enrolment)
        .where(Enrolment.course_id == assignment.course_id, Enrolment.user_id == user.id)
        .with_for_update()  # serialises one student's concurrent uploads (the limit check below)
    )
    if enrolment is None:
        raise Forbidden("you are not enrolled in this course")
    filename = _clean_filename(filename)
    require_open(assignment.course)
    _validate(filename, data)
    # After the enrolment's lock, never before it (one order for the two). Until commit, the version
    # read stays the published one: a publish waits for this upload, so its regrade includes it.
    rubrics.lock_published_version(db, assignment)
    now = utcnow()
    submission = Submission(
        assignment_id=assignment.id, user_id=user.id, filename=filename, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), content=data, created_at=now, updated_at=now,
        rubric_hash=assignment.rubric_hash,
    )
    db.add(submission)
    db.flush()  # its id, which the count below leaves out
    refusal = allowance(db, user, assignment, now, excluding=submission.id).refusal()
    if refusal is not None:
        raise refusal
    queue.enqueue(db, assignment, [submission.id])  # sent when the caller commits
    return submission


def _check_access(db: Session, viewer: User, submission: Submission) -> None:
    if submission.user_id == viewer.id or can_view_all(db, viewer, submission.assignment.course_id):
        return
    raise Forbidden("this is not your submission")


def get_submission(db: Session, viewer: User, submission_id: int) -> Submission:
    """Students see their own submissions; instructors and TAs those of their courses."""
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"no submission {submission_id}")
    _check_access(db, viewer, submission)
    return submission


def submissions_of(db: Session, viewer: User, assignment: Assignment | None = None) -> list[Submission]:
    """Newest first: a student's own; for instructors and TAs also everyone's in their courses."""
    query = select(Submission).order_by(Submission.id.desc())
    if assignment is not None:
        if course_role(db, viewer, assignment.course_id) is None:
            raise Forbidden("you are not enrolled in this course")
        query = query.where(Submission.assignment_id == assignment.id)
    if viewer.role != Role.admin:
        taught = select(Enrolment.course_id).where(
            Enrolment.user_id == viewer.id, Enrolment.role.in_(roles_granting(Permission.view_all))
        )
        query = query.join(Submission.assignment).where(
            or_(Submission.user_id == viewer.id, Assignment.course_id.in_(taught))
        )
    return list(db.scalars(query))


def runs_of(db: Session, viewer: User, submission: Submission) -> list[GradingRun]:
    """Every grading attempt, oldest first; for the course's staff (errors are for them)."""
    require_view_all(db, viewer, submission.assignment.course)
    return list(db.scalars(
        select(GradingRun).where(GradingRun.submission_id == submission.id).order_by(GradingRun.id)
    ))


def shown_status(status: str, scored: bool) -> str:
    """What a page calls a submission's state: "regrading" while one that has a score is graded
    again, since that score still counts until the new one is in."""
    return "regrading" if scored and status in ACTIVE_STATUSES else status


@dataclass(frozen=True)
class SubmissionFeedback:
    submission_id: int
    status: str
    error: str | None  # the submission's, or the one failure that stopped every check
    late: bool
    due_at: datetime | None  # the student's own (an extension's)
    late_by: timedelta
    grace_days: int  # what counting this submission takes from the student's grace days
    credit_percent: float
    counts: bool | None  # the submission that counts for the assignment (None: not told, see counted_for)
    rubric_hash: str | None  # of the run the auto scores come from
    stale: bool
    score: float
    credited_score: float
    max_score: float
    questions: list[ScoredQuestion]
    student_output: str


def _released(assignment: Assignment, own_due_at: datetime | None) -> bool:
    """Whether after-due-date details reach the student: at the release time, and never before
    their own due date (an extension's), while they can still change the code the details are about."""
    release = assignment.release_at or assignment.due_at
    if release is None:
        return False
    return utcnow() >= max(release, own_due_at or release)


def _shown_to_student(visibility: str, released: bool) -> bool:
    if visibility == "hidden":
        return False
    if visibility == "after_due_date":
        return released
    return True


@dataclass(frozen=True)
class Counted:
    """The submission that counts, as far as the viewer may be told."""

    known: bool  # False: a student, under `best`, while it turns on questions they cannot see
    attempt: Attempt | None  # None while unknown, or when nothing counts yet

    @property
    def submission_id(self) -> int | None:
        return self.attempt.submission.id if self.attempt else None


def counted_for(db: Session, viewer: User, assignment: Assignment, standing: Standing) -> Counted:
    """The submission that counts, as `viewer` may be told: under `best` it has the best total over
    every question, so telling a student which one it is, while some are hidden from them (hidden
    tests, details not released yet), would tell them how two submissions compare on those. Staff
    are always told."""
    if assignment.counts == CountingRule.best and not can_view_all(db, viewer, assignment.course_id):
        released = _released(assignment, standing.due_at)
        rubric = rubrics.require_published(db, assignment)
        if not all(_shown_to_student(q.visibility, released) for q in rubric.questions):
            return Counted(False, None)
    return Counted(True, standing.counted)


def _questions_for(staff: bool, released: bool, score: SubmissionScore) -> list[ScoredQuestion]:
    """Staff see every question; a student neither hidden questions nor after-due-date ones before
    their release (`released`, see _released), nor a grade above a lowered maximum as it was given
    (the staff's to settle: the score counts)."""
    if staff:
        return score.questions
    return [replace(q, capped_from=None) for q in score.questions if _shown_to_student(q.visibility, released)]


def _points(questions: list[ScoredQuestion]) -> tuple[float, float]:
    return round(sum(q.score or 0.0 for q in questions), 4), round(sum(q.max_score for q in questions), 4)


def feedback(db: Session, submission: Submission, viewer: User) -> SubmissionFeedback:
    """Scores and feedback of what `viewer` may see, with the staff's feedback for wrong answers shared
    with others (never who shares them). A failure that stopped every check (an import error) is the
    submission's error, and each question says it could not run instead of repeating it."""
    _check_access(db, viewer, submission)
    assignment = submission.assignment
    score = score_submissions(db, assignment, rubrics.require_published(db, assignment), [submission])[submission.id]
    standing = standings.standings(db, assignment, [submission.user], with_scores=False)[submission.user_id]
    questions = _questions_for(can_view_all(db, viewer, assignment.course_id),
                               _released(assignment, standing.due_at), score)
    run = score.run
    attempt = next(a for a in standing.attempts if a.submission.id == submission.id)
    counted = counted_for(db, viewer, assignment, standing)
    error = submission.error
    stopped = stopping_failure(run, {q.question_id for q in questions}) if run else None
    if stopped and any(q.source == "auto" for q in questions):  # the viewer sees it said at least once
        error = error or stopped
        questions = [replace(q, feedback=COULD_NOT_RUN) if q.source == "auto" else q for q in questions]
    if run is not None:  # the staff's words on its wrong answers, only under the questions kept above
        notes = answer_groups.feedback_for_run(db, assignment.id, run.id)
        questions = [replace(q, group_feedback=notes.get(q.question_id, ())) for q in questions]
    total, max_score = _points(questions)
    return SubmissionFeedback(
        submission_id=submission.id,
        status=submission.status,
        error=error,
        late=attempt.late_by > timedelta(0),
        due_at=standing.due_at,
        late_by=attempt.late_by,
        grace_days=attempt.grace_days,
        credit_percent=attempt.percent,
        counts=counted.submission_id == submission.id if counted.known else None,
        rubric_hash=run.rubric_hash if run else None,
        stale=score.stale,
        score=total,
        credited_score=standings.credit(total, attempt.percent),
        max_score=max_score,
        questions=questions,
        student_output=run.student_output if run else "",
    )


@dataclass(frozen=True)
class SubmissionRow:
    """A line of a student's list of submissions: the score they may see, and the state to show."""

    submission: Submission
    status: str  # shown_status
    score: float | None  # None: no score yet
    max_score: float


def history(db: Session, viewer: User, assignment: Assignment) -> list[SubmissionRow]:
    """The viewer's own submissions to `assignment`, newest first, each with its score (the last
    one while it is regraded), counting only the questions the viewer may see."""
    own = [s for s in submissions_of(db, viewer, assignment) if s.user_id == viewer.id]
    scores = score_submissions(db, assignment, rubrics.require_published(db, assignment), own,
                              texts=False)
    staff = can_view_all(db, viewer, assignment.course_id)
    released = staff or _released(assignment, standings.own_due_at(db, assignment, viewer))
    rows = []
    for submission in own:
        score = scores[submission.id]
        questions = _questions_for(staff, released, score)
        total, max_score = _points(questions)
        scored = any(q.score is not None for q in questions)
        rows.append(SubmissionRow(submission, shown_status(submission.status, score.run is not None),
                                  total if scored else None, max_score))
    return rows
