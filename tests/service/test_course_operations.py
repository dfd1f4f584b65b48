"""Running a course through the services: creating and archiving courses, what instructors, TAs
and students may do, assignment settings, and each student's allowance (limit and cooldown)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import CountingRule, CourseRole, User
from grader.services import (
    allowance,
    assignments,
    choices,
    courses,
    dashboard,
    extensions,
    grace,
    gradebook,
    manual_grades,
    permissions,
    publishing,
    regrades,
    roster,
    submissions,
    users,
)
from grader.services.assignments import AssignmentSettings
from grader.services.errors import Forbidden, Rejected, TryLater
from grader.services.late_credit import LateAfter
from tests.service.helpers import REFERENCE, make_class, upload

AFTER_DUE = "1.1c.iv"  # HW2's after_due_date question


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_instructors_create_courses_they_teach_and_students_cannot(any_db: Session) -> None:
    db = any_db
    tag = _tag()
    prof = users.create_user(db, f"prof-{tag}@uni.edu", "Prof", "instructor")
    student = users.create_user(db, f"student-{tag}@uni.edu", "Student", "student")
    admin = users.create_user(db, f"admin-{tag}@uni.edu", "Admin", "admin")
    course = courses.create_course(db, prof, f"DL-{tag}", "  Deep learning  ")
    db.commit()
    assert course.title == "Deep learning"
    assert [(m.course.id, m.role) for m in courses.courses_of(db, prof)] == [(course.id, CourseRole.instructor)]
    assert permissions.can_change_settings(db, admin, course.id)  # admins teach every course

    with pytest.raises(Forbidden):
        courses.create_course(db, student, f"X-{tag}", "Mine")
    for code, title, status in ((f"DL-{tag}", "Again", 409), ("has space", "T", 422), ("../x", "T", 422),
                                (f"Y-{tag}", " ", 422), (f"Z-{tag}", "t" * 201, 422)):
        with pytest.raises(Rejected) as refused:
            courses.create_course(db, prof, code, title)
        assert refused.value.status_code == status, code


def test_an_archived_course_takes_no_uploads_or_changes_but_stays_gradable(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1, due_at=utcnow() + timedelta(days=7), counts=CountingRule.chosen)
    student = klass.students[0]
    submission = submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    extensions.grant_extension(db, klass.instructor, klass.assignment, student.id, utcnow() + timedelta(days=9))
    with pytest.raises(Forbidden):
        courses.archive_course(db, student, klass.course)
    courses.archive_course(db, klass.instructor, klass.course)
    db.commit()
    assert klass.course.archived_at is not None

    refusals = [
        lambda: submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE),
        lambda: roster.enrol(db, klass.instructor, klass.course, f"new-{_tag()}@uni.edu", "student"),
        lambda: assignments.create_assignment(db, klass.instructor, klass.course, "hw3", "hw2"),
        lambda: assignments.update_assignment(db, klass.instructor, klass.assignment,
                                              assignments.settings_of(klass.assignment)),
        # Each of these moves a credited score after the term, as a changed late rule would.
        lambda: extensions.grant_extension(db, klass.instructor, klass.assignment, student.id,
                                           utcnow() + timedelta(days=10)),
        lambda: extensions.revoke_extension(db, klass.instructor, klass.assignment, student.id),
        lambda: grace.set_grace_days(db, klass.instructor, klass.course, 2),
        lambda: choices.choose(db, student, submission),
    ]
    messages = set()
    for refused_call in refusals:
        with pytest.raises(Rejected) as refused:
            refused_call()
        assert refused.value.status_code == 409 and "archived" in refused.value.message
        messages.add(refused.value.message)
        db.rollback()
    assert len(messages) == 1  # one reason, whatever was refused
    grade = manual_grades.set_manual_grade(db, klass.instructor, submission, "1.2.1a", 2)
    assert grade.score == 2


def test_an_archived_course_is_reopened_by_its_instructors_only(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    ta = roster.enrol(db, klass.instructor, klass.course, f"ta-{_tag()}@uni.edu", "ta", "Tara").user
    courses.archive_course(db, klass.instructor, klass.course)
    db.commit()
    for not_instructor in (klass.students[0], ta):
        with pytest.raises(Forbidden):
            courses.reopen_course(db, not_instructor, klass.course)
    courses.reopen_course(db, klass.instructor, klass.course)
    db.commit()
    assert klass.course.archived_at is None
    courses.reopen_course(db, klass.instructor, klass.course)  # an open course: nothing changes
    assert klass.course.archived_at is None and not db.dirty
    assert submissions.submit(db, klass.students[0], klass.assignment, "hw2.py", REFERENCE).id is not None
    assert roster.enrol(db, klass.instructor, klass.course, f"new-{_tag()}@uni.edu", "student").user.id is not None


def test_a_ta_grades_and_regrades_sees_everything_but_changes_no_setting(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    ta = roster.enrol(db, klass.instructor, klass.course, f"ta-{_tag()}@uni.edu", "ta", "Tara").user
    db.commit()
    submission = submissions.submit(db, klass.students[0], klass.assignment, "hw2.py", REFERENCE)

    assert manual_grades.set_manual_grade(db, ta, submission, "1.2.1a", 3, "good").grader_id == ta.id
    batch = regrades.start_regrade(db, ta, klass.assignment, "TA's regrade", submission_ids=[submission.id])
    assert regrades.regrade_progress(db, ta, batch.id)["total"] == 1
    assert [row.student.id for row in gradebook.gradebook(db, ta, klass.assignment).rows] == [klass.students[0].id]
    assert submissions.runs_of(db, ta, submission) == []
    assert [s.id for s in submissions.submissions_of(db, ta, klass.assignment)] == [submission.id]
    shown = {q.question_id for q in submissions.feedback(db, submission, ta).questions}
    assert "1.2.3d" in shown  # hidden from students, not from the staff
    assert [p.submissions for p in dashboard.course_progress(db, ta, klass.course)] == [1]
    assert extensions.extensions_of(db, ta, klass.assignment) == []  # late work and rubric versions: read only
    assert grace.grace_ledger(db, ta, klass.course).entries == []
    assert not publishing.rubric_status(db, ta, klass.assignment).changed

    settings = assignments.settings_of(klass.assignment)
    for change in (
        lambda: assignments.update_assignment(db, ta, klass.assignment, replace(settings, max_submissions=1)),
        lambda: assignments.create_assignment(db, ta, klass.course, "hw3", "hw2"),
        lambda: roster.enrol(db, ta, klass.course, f"friend-{_tag()}@uni.edu", "ta"),
        lambda: courses.archive_course(db, ta, klass.course),
        lambda: extensions.grant_extension(db, ta, klass.assignment, klass.students[0].id,
                                           utcnow() + timedelta(days=1)),
        lambda: grace.set_grace_days(db, ta, klass.course, 2),
        lambda: publishing.publish(db, ta, klass.assignment),
    ):
        with pytest.raises(Forbidden) as refused:
            change()
        assert refused.value.message == f"only instructors of {klass.course.code} can change its roster, " \
                                        "assignments or settings"

    student = klass.students[0]
    for look in (lambda: gradebook.gradebook(db, student, klass.assignment),
                 lambda: manual_grades.set_manual_grade(db, student, submission, "1.2.1a", 4),
                 lambda: dashboard.course_progress(db, student, klass.course)):
        with pytest.raises(Forbidden) as refused:
            look()
        assert "only instructors and TAs of" in refused.value.message


def test_an_assignment_is_made_from_a_rubric_folder_and_edited_later(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=0)
    due = datetime(2030, 5, 1, 12, tzinfo=UTC)
    made = assignments.create_assignment(db, klass.instructor, klass.course, "hw2-retake", "hw2",
                                         AssignmentSettings(due_at=due, max_submissions=5, cooldown_s=600))
    db.commit()
    assert made.title == "HW2: convolutions, gated RNNs and AttentionRNN"  # the rubric's
    assert (made.due_at, made.max_submissions, made.cooldown_s, made.release_at) == (due, 5, 600, None)
    assert made.rubric_hash and made.device

    later = AssignmentSettings(title="HW2 (retake)", due_at=due + timedelta(days=1), max_submissions=None,
                               cooldown_s=0, release_at=due + timedelta(days=2), late_credit="2d=80",
                               late_after=LateAfter.reject, counts=CountingRule.best)
    assignments.update_assignment(db, klass.instructor, made, later)
    db.commit()
    db.expire_all()
    assert assignments.settings_of(made) == replace(later, cooldown_s=None)

    bad_settings = [
        (replace(later, release_at=due), "cannot be released before the due date"),
        (replace(later, max_submissions=0), "the submission limit is 1 to"),
        (replace(later, cooldown_s=-5), "the cooldown is 0 to"),
        (replace(later, due_at=datetime(2030, 5, 1)), "needs a time zone"),
        (replace(later, title=""), "a title has 1 to 200 characters"),
        (replace(later, counts="first"), "which submission counts: one of"),  # type: ignore[arg-type]
        (replace(later, late_credit="2d=eighty"), "is not a credit"),
        (replace(later, late_after="sometimes"), "after the last window: one of"),  # type: ignore[arg-type]
    ]
    for settings, message in bad_settings:
        with pytest.raises(Rejected) as refused:
            assignments.update_assignment(db, klass.instructor, made, settings)
        assert refused.value.status_code == 422 and message in refused.value.message
        db.rollback()


@pytest.mark.parametrize("rubric_id", ["../rubrics/hw2", "/etc", "hw2/../hw2", ".hidden", "no-such-rubric"])
def test_a_rubric_id_names_a_folder_in_the_rubrics_folder_only(any_db: Session, rubric_id: str) -> None:
    klass = make_class(any_db, students=0)
    with pytest.raises(Rejected) as refused:
        assignments.create_assignment(any_db, klass.instructor, klass.course, "hw9", rubric_id)
    assert refused.value.status_code == 422


def test_a_lowered_limit_leaves_no_submission_and_never_a_negative_count(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    student = klass.students[0]
    for _ in range(4):
        submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    assignments.update_assignment(db, klass.instructor, klass.assignment,
                                  replace(assignments.settings_of(klass.assignment), max_submissions=3))
    db.commit()
    state = allowance.allowance(db, student, klass.assignment, utcnow())
    assert (state.used, state.limit, state.left, state.limit_reached) == (4, 3, 0, True)
    with pytest.raises(Rejected) as refused:
        submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    assert refused.value.status_code == 429 and "all 3 submissions" in refused.value.message


def test_the_cooldown_refuses_an_upload_with_the_wait_and_lets_the_next_one_in(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=2, cooldown_s=600)
    first, second = klass.students
    made = upload(db, first, klass.assignment)
    with pytest.raises(TryLater) as refused:
        submissions.submit(db, first, klass.assignment, "hw2.py", REFERENCE)
    db.rollback()  # as the route does: the refused upload's flushed row goes
    assert refused.value.status_code == 429
    assert 590 <= refused.value.retry_after_s <= 600
    assert refused.value.headers == {"Retry-After": str(refused.value.retry_after_s)}
    assert "wait 10 minutes before submitting again" in refused.value.message
    upload(db, second, klass.assignment)  # a cooldown per student

    state = allowance.allowance(db, first, klass.assignment, made.created_at + timedelta(seconds=90))
    assert state.wait_s == 510 and state.next_at == made.created_at + timedelta(seconds=600)
    later = allowance.allowance(db, first, klass.assignment, made.created_at + timedelta(seconds=600))
    assert later.wait_s == 0 and later.refusal() is None


def test_after_due_date_details_wait_for_their_release(any_db: Session) -> None:
    db = any_db
    past = utcnow() - timedelta(hours=1)
    klass = make_class(db, students=1, due_at=past, release_at=past + timedelta(days=1))
    student = klass.students[0]
    submission = submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    assert AFTER_DUE not in {q.question_id for q in submissions.feedback(db, submission, student).questions}
    assignments.update_assignment(db, klass.instructor, klass.assignment,
                                  replace(assignments.settings_of(klass.assignment), release_at=None))
    assert AFTER_DUE in {q.question_id for q in submissions.feedback(db, submission, student).questions}


def test_after_due_date_details_wait_for_a_students_own_due_date(any_db: Session) -> None:
    """A student with an extension can still change the code those details are about."""
    db = any_db
    past = utcnow() - timedelta(hours=1)
    klass = make_class(db, students=2, due_at=past)  # released at the due date: an hour ago
    on_time, extended = klass.students
    extensions.grant_extension(db, klass.instructor, klass.assignment, extended.id, past + timedelta(days=2))
    db.commit()
    uploads = {student.id: submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
               for student in klass.students}

    def shown(student: User) -> tuple[bool, float]:
        seen = {q.question_id for q in submissions.feedback(db, uploads[student.id], student).questions}
        [row] = submissions.history(db, student, klass.assignment)
        return AFTER_DUE in seen, row.max_score

    (seen, full), (hidden, short) = shown(on_time), shown(extended)
    assert (seen, hidden) == (True, False) and short < full  # nor does its score count in what is shown
    staff_view = submissions.feedback(db, uploads[extended.id], klass.instructor)
    assert AFTER_DUE in {q.question_id for q in staff_view.questions}
    extensions.revoke_extension(db, klass.instructor, klass.assignment, extended.id)
    db.commit()
    assert shown(extended) == (True, full)


def test_the_dashboard_counts_each_assignments_submissions(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=2)
    second = assignments.create_assignment(db, klass.instructor, klass.course, "hw3", "hw2")
    db.commit()
    for student in klass.students:
        submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    submissions.submit(db, klass.students[0], klass.assignment, "hw2.py", REFERENCE)
    progress = dashboard.course_progress(db, klass.instructor, klass.course)
    assert [(p.assignment.id, p.students, p.submissions, p.queued, p.graded, p.failed) for p in progress] == [
        (klass.assignment.id, 2, 3, 3, 0, 0), (second.id, 0, 0, 0, 0, 0)]


def test_the_dashboard_counts_only_the_work_of_the_courses_current_students(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=2)
    ta = roster.enrol(db, klass.instructor, klass.course, f"ta-{_tag()}@uni.edu", "ta", "Tara").user
    db.commit()
    for student in klass.students:
        submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    submissions.submit(db, ta, klass.assignment, "hw2.py", REFERENCE)  # staff check the rubric
    roster.drop(db, klass.instructor, klass.course, klass.students[1].id)
    db.commit()
    progress = dashboard.course_progress(db, klass.instructor, klass.course)
    assert [(p.students, p.submissions, p.queued, p.graded, p.failed) for p in progress] == [(1, 1, 1, 0, 0)]
