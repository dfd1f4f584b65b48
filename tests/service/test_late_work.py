"""Late work on the real service stack: credited scores follow a changed policy, an extension and
the grace days from the stored runs, without a single new grading run; which submission counts;
when uploads close."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Assignment, GradingRun, RegradeBatch, Submission, User
from grader.services import (
    allowance,
    assignments,
    choices,
    claims,
    extensions,
    grace,
    gradebook,
    results,
    standings,
    submissions,
)
from grader.services.assignments import AssignmentSettings
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.gradebook import Gradebook, GradebookRow
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import (
    REFERENCE,
    WRONG_CONV2D,
    copy_rubric,
    make_class,
    report_failing,
    upload,
    wait_finished,
)

TIMEOUT_S = 180
LATE_BY = timedelta(hours=36)
HIDDEN_QUESTION = "1.2.3d"  # rubrics/hw2: hidden from students


def _row(book: Gradebook, student: User) -> GradebookRow:
    return next(row for row in book.rows if row.student.id == student.id)


def _set(db: Session, actor: User, assignment: Assignment, **changes: object) -> None:
    """Change some of the assignment's settings, as the API's PATCH does."""
    assignments.update_assignment(db, actor, assignment,
                                  replace(assignments.settings_of(assignment), **changes))  # type: ignore[arg-type]


def _runs(db: Session, submission_ids: list[int]) -> list[tuple[int, int, int]]:
    """(run id, submission id, request no) of every run: a regrade or a new grading would add one."""
    db.rollback()
    return [tuple(row) for row in db.execute(  # type: ignore[misc]
        select(GradingRun.id, GradingRun.submission_id, GradingRun.request_no)
        .where(GradingRun.submission_id.in_(submission_ids)).order_by(GradingRun.id))]


def test_policy_extension_and_counting_changes_recompute_credit_without_grading(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db, students=2, rubric_id=copy_rubric(postgres_stack.rubrics_dir, lambda _: None),
                       due_at=utcnow() - LATE_BY)
    first, second = klass.students
    hw = klass.assignment
    uploads = [upload(db, first, hw).id, upload(db, first, hw, WRONG_CONV2D).id, upload(db, second, hw).id]
    assert set(wait_finished(db, uploads, TIMEOUT_S).values()) == {"graded"}
    runs = _runs(db, uploads)
    assert len(runs) == 3

    book = gradebook.gradebook(db, klass.instructor, hw)
    full = book.max_score
    perfect = _row(book, second).total
    wrong = _row(book, first).total
    assert wrong < perfect and _row(book, first).submission_id == uploads[1]  # the last counts
    assert all(LATE_BY <= row.late_by < LATE_BY + timedelta(minutes=5) for row in book.rows)
    assert [(row.credit_percent, row.credited_total) for row in book.rows] == [(100, wrong), (100, perfect)]

    _set(db, klass.instructor, hw, late_credit="2d=80,7d=50")
    db.commit()
    book = gradebook.gradebook(db, klass.instructor, hw)
    assert (_row(book, second).credit_percent, _row(book, second).credited_total) == (80, round(perfect * 0.8, 4))
    assert _row(book, second).total == perfect  # the raw score stays

    _set(db, klass.instructor, hw, late_credit="1d=80,7d=50")
    db.commit()
    assert _row(gradebook.gradebook(db, klass.instructor, hw), second).credited_total == round(perfect * 0.5, 4)

    extensions.grant_extension(db, klass.instructor, hw, second.id, utcnow() + timedelta(days=1), "flu")
    db.commit()
    row = _row(gradebook.gradebook(db, klass.instructor, hw), second)
    assert row.extended and row.late_by == timedelta(0) and row.credited_total == perfect
    extensions.revoke_extension(db, klass.instructor, hw, second.id)
    db.commit()
    row = _row(gradebook.gradebook(db, klass.instructor, hw), second)
    assert not row.extended and row.credited_total == round(perfect * 0.5, 4)

    _set(db, klass.instructor, hw, counts="best")
    db.commit()
    row = _row(gradebook.gradebook(db, klass.instructor, hw), first)
    assert (row.submission_id, row.total, row.credited_total) == (uploads[0], perfect, round(perfect * 0.5, 4))

    _set(db, klass.instructor, hw, counts="chosen")
    db.commit()
    assert _row(gradebook.gradebook(db, klass.instructor, hw), first).submission_id == uploads[1]  # none marked yet
    choices.choose(db, first, submissions.get_submission(db, first, uploads[0]))
    db.commit()
    assert _row(gradebook.gradebook(db, klass.instructor, hw), first).submission_id == uploads[0]
    mine = submissions.feedback(db, db.get_one(Submission, uploads[0]), first)
    assert mine.counts and mine.late and mine.credit_percent == 50 and mine.credited_score == round(mine.score / 2, 4)

    assert _runs(db, uploads) == runs  # nothing was graded again
    assert db.scalar(select(func.count()).select_from(RegradeBatch).where(RegradeBatch.assignment_id == hw.id)) == 0
    assert full >= perfect


def test_grace_days_go_to_the_oldest_assignment_first_and_the_ledger_shows_them(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, due_at=utcnow() - timedelta(days=3) + timedelta(hours=1), late_credit="1d=50")
    student = klass.students[0]
    older = klass.assignment
    newer = assignments.create_assignment(db, klass.instructor, klass.course, "hw3", "hw2", AssignmentSettings(
        title="HW3", due_at=utcnow() - timedelta(days=1) + timedelta(hours=1), late_credit="1d=50"))
    db.commit()
    on_newer = upload(db, student, newer)  # handed in first, but due later
    on_older = upload(db, student, older)

    grace.set_grace_days(db, klass.instructor, klass.course, 2)
    db.commit()
    ledger = grace.grace_ledger(db, klass.instructor, klass.course)
    # The older one is 2d23h late: 2 days bring it to 23h late, 50 % instead of nothing.
    assert [(e.assignment.id, e.submission_id, e.days, e.left) for e in ledger.entries] == [
        (older.id, on_older.id, 2, 0)]
    assert [(s.id, days) for s, days in ledger.left] == [(student.id, 0)]
    assert _row(gradebook.gradebook(db, klass.instructor, newer), student).credit_percent == 50

    grace.set_grace_days(db, klass.instructor, klass.course, 4)
    db.commit()
    ledger = grace.grace_ledger(db, klass.instructor, klass.course)
    assert [(e.submission_id, e.days, e.left) for e in ledger.entries] == [(on_older.id, 3, 1), (on_newer.id, 1, 0)]
    for assignment in (older, newer):
        row = _row(gradebook.gradebook(db, klass.instructor, assignment), student)
        assert row.credit_percent == 100 and row.late_by > timedelta(0)

    with pytest.raises(Forbidden):
        grace.grace_ledger(db, student, klass.course)
    with pytest.raises(Rejected, match="from 0 to 365"):
        grace.set_grace_days(db, klass.instructor, klass.course, -1)


def test_uploads_close_after_the_last_window_of_the_students_own_due_date(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, students=2, due_at=utcnow() - timedelta(hours=2), late_credit="1h=50", late_after="reject")
    late, extended = klass.students
    hw = klass.assignment
    with pytest.raises(Rejected) as refused:
        submissions.submit(db, late, hw, "hw2.py", REFERENCE)
    db.rollback()  # as the route does: the refused upload's flushed row goes
    assert refused.value.status_code == 409 and "the last time to upload" in refused.value.message

    extensions.grant_extension(db, klass.instructor, hw, extended.id, utcnow() + timedelta(hours=1))
    db.commit()
    upload(db, extended, hw)

    grace.set_grace_days(db, klass.instructor, klass.course, 1)
    db.commit()
    accepted = upload(db, late, hw)  # a grace day keeps it open
    feedback = submissions.feedback(db, accepted, late)
    assert feedback.late and feedback.grace_days == 1 and feedback.credit_percent == 100


def test_the_counting_rule_picks_the_chosen_submission_only_where_students_choose(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, students=2)
    student, other = klass.students
    first = upload(db, student, klass.assignment)
    upload(db, student, klass.assignment)
    with pytest.raises(Rejected, match="counts the last submission") as refused:
        choices.choose(db, student, first)
    assert refused.value.status_code == 409
    _set(db, klass.instructor, klass.assignment, counts="chosen")
    db.commit()
    with pytest.raises(Forbidden):
        submissions.get_submission(db, other, first.id)
    with pytest.raises(Forbidden):  # only the course's graders choose for a student
        choices.choose(db, other, first)
    choices.choose(db, student, first)
    db.commit()
    row = _row(gradebook.gradebook(db, klass.instructor, klass.assignment), student)
    assert row.submission_id == first.id


def test_bad_rules_and_extensions_are_refused_with_the_reason(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, due_at=utcnow())
    hw, student = klass.assignment, klass.students[0]
    cases = [
        (lambda: _set(db, klass.instructor, hw, late_credit="2d=eighty"), 422, "is not a credit"),
        (lambda: _set(db, klass.instructor, hw, late_credit="2d=80", late_after="full"), 422,
         "zero or reject"),
        (lambda: _set(db, klass.instructor, hw, counts="first"), 422, "last, best, chosen"),
        (lambda: extensions.grant_extension(db, klass.instructor, hw, student.id, hw.due_at - timedelta(hours=1)),  # type: ignore[operator]
         422, "must end after the due date"),
    ]
    for call, status, message in cases:
        with pytest.raises(Rejected, match=message) as refused:
            call()
        assert refused.value.status_code == status
    with pytest.raises(Forbidden):
        _set(db, student, hw, late_credit="2d=80")
    with pytest.raises(NotFound, match=re.escape(f"{student.email} has no extension for hw2")):
        extensions.revoke_extension(db, klass.instructor, hw, student.id)
    not_a_student = f"user {klass.instructor.id} is not a student of {klass.course.code}"
    with pytest.raises(NotFound, match=re.escape(not_a_student)):
        extensions.grant_extension(db, klass.instructor, hw, klass.instructor.id, utcnow() + timedelta(days=1))
    undated = assignments.create_assignment(db, klass.instructor, klass.course, "hw3", "hw2")
    with pytest.raises(Rejected, match="no due date") as refused:
        extensions.grant_extension(db, klass.instructor, undated, student.id, utcnow())
    assert refused.value.status_code == 409
    db.rollback()
    db.expire_all()
    assert (hw.late_credit, hw.counts) == (None, "last")  # nothing half-applied


def test_dates_from_year_9000_are_refused_and_a_stored_one_still_answers(quiet_db: Session) -> None:
    """The longest late window and grace days must fit after any due date; one stored before dates
    were bounded closes uploads at the end of the calendar instead of failing every read."""
    db = quiet_db
    klass = make_class(db, due_at=utcnow(), late_credit="7d=50", late_after="reject")
    hw, student = klass.assignment, klass.students[0]
    far = datetime(9999, 12, 31, tzinfo=UTC)
    for call in (
        lambda: _set(db, klass.instructor, hw, due_at=far),
        lambda: _set(db, klass.instructor, hw, release_at=far),
        lambda: assignments.create_assignment(db, klass.instructor, klass.course, "hw3", "hw2",
                                              AssignmentSettings(due_at=far)),
        lambda: extensions.grant_extension(db, klass.instructor, hw, student.id, far),
    ):
        with pytest.raises(Rejected, match="before 9000-01-01") as refused:
            call()
        assert refused.value.status_code == 422
        db.rollback()

    hw.due_at = far
    grace.set_grace_days(db, klass.instructor, klass.course, 365)
    db.commit()
    assert not allowance.allowance(db, student, hw, utcnow()).closed
    upload(db, student, hw)
    assert _row(gradebook.gradebook(db, klass.instructor, hw), student).credit_percent == 100


def _counted(db: Session, student: User, assignment: Assignment) -> submissions.Counted:
    """Which submission counts, as the student's assignment page is told."""
    standing = standings.standings(db, assignment, [student], with_scores=False)[student.id]
    return submissions.counted_for(db, student, assignment, standing)


def _graded(db: Session, submission: Submission, *failing: str) -> None:
    """Play the worker: every auto question passes but `failing`."""
    claim = claims.claim(db, submission.id, submission.assignment.rubric_hash, "cpu", "late-work-test")
    assert claim is not None and results.record_result(db, claim, report_failing(*failing))


def test_under_best_a_student_is_not_told_which_submission_counts_while_it_turns_on_questions_hidden_from_them(
    quiet_db: Session,
) -> None:
    """Two submissions alike on every question the student sees: which one counts (the best total
    over all questions) would tell them which one passes a hidden test. Staff are told."""
    db = quiet_db
    klass = make_class(db, counts="best", due_at=utcnow() + timedelta(days=7))
    [student] = klass.students
    passes_hidden, fails_hidden = upload(db, student, klass.assignment), upload(db, student, klass.assignment)
    _graded(db, passes_hidden)
    _graded(db, fails_hidden, HIDDEN_QUESTION)
    db.commit()

    seen = [submissions.feedback(db, s, student) for s in (passes_hidden, fails_hidden)]
    assert seen[0].score == seen[1].score and HIDDEN_QUESTION not in {q.question_id for q in seen[0].questions}
    assert [f.counts for f in seen] == [None, None]
    staff_seen = [submissions.feedback(db, s, klass.instructor) for s in (passes_hidden, fails_hidden)]
    assert [f.counts for f in staff_seen] == [True, False]
    assert not _counted(db, student, klass.assignment).known

    _set(db, klass.instructor, klass.assignment, counts="last")  # the newest counts: nothing to learn from it
    db.commit()
    assert [submissions.feedback(db, s, student).counts for s in (passes_hidden, fails_hidden)] == [False, True]
    counted = _counted(db, student, klass.assignment)
    assert counted.known and counted.attempt is not None and counted.attempt.submission.id == fails_hidden.id
