"""Rosters: a 600-student CSV with a TA, Canvas's export, idempotent re-imports, every bad line
named with nothing half-imported, and dropping a student whose submissions stay."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import CourseRole, Enrolment, Role, Submission, User
from grader.services import courses, gradebook, roster, submissions, users
from grader.services.errors import Forbidden, NotFound, Rejected
from tests.service.helpers import REFERENCE, make_class

STUDENTS = 600


def _roster_csv(tag: str, students: int = STUDENTS) -> bytes:
    lines = ["email,name,role", f"ta-{tag}@uni.edu,Tara Assistant,ta"]
    lines += [f"s{i:03d}-{tag}@uni.edu,Student {i:03d}," for i in range(students)]
    return ("\n".join(lines) + "\n").encode()


def _canvas_csv(tag: str) -> bytes:
    return (
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,HW1 (123)\r\n"
        "    Points Possible,,,,,100\r\n"
        f'"Lovelace, Ada",4711,S0001,ada-{tag}@uni.edu,DL 2026 Section A,95\r\n'
        f'"Turing, Alan",4712,S0002,turing-{tag},DL 2026 Section B,90\r\n'
        '"Student, Test",9999,,,DL 2026 Section A,\r\n'
    ).encode()


def _enrolled(db: Session, course_id: int) -> dict[str, Enrolment]:
    db.expire_all()
    rows = db.execute(select(User.email, Enrolment).join(Enrolment, Enrolment.user_id == User.id)
                      .where(Enrolment.course_id == course_id))
    return {email: enrolment for email, enrolment in rows}


def test_a_600_student_roster_with_a_ta_imports_once_and_again_changes_nothing(postgres_db: Session) -> None:
    db = postgres_db
    klass = make_class(db, students=0)
    tag = uuid.uuid4().hex[:8]
    existing = users.create_user(db, f"s007-{tag}@uni.edu", "Already Here", "student")
    db.commit()

    first = roster.import_roster(db, klass.instructor, klass.course, _roster_csv(tag))
    db.commit()
    assert (first.accounts_created, first.enrolled, first.changed, first.unchanged) == (STUDENTS, STUDENTS + 1, 0, 0)
    enrolled = _enrolled(db, klass.course.id)
    assert len(enrolled) == STUDENTS + 2  # and the instructor
    assert enrolled[f"ta-{tag}@uni.edu"].role == CourseRole.ta
    assert enrolled[f"s599-{tag}@uni.edu"].role == CourseRole.student
    assert enrolled[f"s007-{tag}@uni.edu"].user_id == existing.id
    assert db.get_one(User, existing.id).name == "Already Here"  # an account keeps its name
    ta_account = users.get_user_by_email(db, f"ta-{tag}@uni.edu")
    assert ta_account is not None and ta_account.role == Role.student and ta_account.password_hash is None

    again = roster.import_roster(db, klass.instructor, klass.course, _roster_csv(tag))
    db.commit()
    assert (again.accounts_created, again.enrolled, again.changed, again.unchanged) == (0, 0, 0, STUDENTS + 1)
    assert len(_enrolled(db, klass.course.id)) == STUDENTS + 2

    page = roster.roster(db, klass.instructor, klass.course, offset=50, limit=50)
    assert page.total == STUDENTS + 2 and len(page.enrolments) == 50
    first_page = roster.roster(db, klass.instructor, klass.course, limit=3)
    assert [e.role for e in first_page.enrolments][:2] == [CourseRole.instructor, CourseRole.ta]
    found = roster.roster(db, klass.instructor, klass.course, search="student 123")
    assert [e.user.email for e in found.enrolments] == [f"s123-{tag}@uni.edu"]


def test_a_canvas_roster_keeps_its_ids_for_the_gradebook_export(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=0)
    tag = uuid.uuid4().hex[:8]
    result = roster.import_roster(db, klass.instructor, klass.course, _canvas_csv(tag), login_domain="uni.edu")
    db.commit()
    assert (result.accounts_created, result.enrolled) == (2, 2)
    assert result.skipped == ["line 2: Canvas's points-possible row", "line 5: Canvas's test student"]
    ada = _enrolled(db, klass.course.id)[f"ada-{tag}@uni.edu"]
    assert (ada.role, ada.canvas_id, ada.sis_user_id, ada.sis_login_id, ada.section) == (
        CourseRole.student, "4711", "S0001", f"ada-{tag}@uni.edu", "DL 2026 Section A")
    assert users.get_user_by_email(db, f"turing-{tag}@uni.edu") is not None  # the login, at the domain

    export = gradebook.gradebook_csv(gradebook.gradebook(db, klass.instructor, klass.assignment))
    assert f"\"Lovelace, Ada\",4711,S0001,ada-{tag}@uni.edu,DL 2026 Section A," in export
    assert f"\"Turing, Alan\",4712,S0002,turing-{tag},DL 2026 Section B," in export

    again = roster.import_roster(db, klass.instructor, klass.course, _canvas_csv(tag), login_domain="uni.edu")
    assert (again.accounts_created, again.enrolled, again.changed, again.unchanged) == (0, 0, 0, 2)


def test_canvass_manual_posting_row_is_skipped_like_its_points_possible_row(any_db: Session) -> None:
    """An export with a manually posted assignment has a row more: blank ids, "Manual Posting"
    under each such assignment."""
    db = any_db
    klass = make_class(db, students=0)
    points = b"    Points Possible"
    export = _canvas_csv(uuid.uuid4().hex[:8]).replace(points, b",,,,,Manual Posting\r\n" + points)
    result = roster.import_roster(db, klass.instructor, klass.course, export, login_domain="uni.edu")
    assert (result.accounts_created, result.enrolled) == (2, 2)
    assert result.skipped == ["line 2: Canvas's manual-posting row", "line 3: Canvas's points-possible row",
                              "line 6: Canvas's test student"]


def test_a_roster_without_roles_never_demotes_a_ta(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=0)
    tag = uuid.uuid4().hex[:8]
    roster.enrol(db, klass.instructor, klass.course, f"ada-{tag}@uni.edu", "ta")
    result = roster.import_roster(db, klass.instructor, klass.course, _canvas_csv(tag), login_domain="uni.edu")
    db.commit()
    assert (result.enrolled, result.changed) == (1, 1)  # Ada's ids are new, her role is not
    assert _enrolled(db, klass.course.id)[f"ada-{tag}@uni.edu"].role == CourseRole.ta


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (b"email,name,role\nok@uni.edu,Ok,\nnot-an-email,Bad,\nrole@uni.edu,Role,professor\n"
         b"ok@uni.edu,Again,\n,Nobody,\n",
         ["4 bad line(s)", "line 3: 'not-an-email' is not an email address",
          "line 4: the role is one of student, ta, instructor, not 'professor'",
          "line 5: ok@uni.edu is already on line 2", "line 6: no email address"]),
        (b"email,name,rol\na@uni.edu,A,ta\n", ["line 1: unknown column 'rol'"]),
        (b"name;mail\nA;a@uni.edu\n", ["line 1: a roster starts with the header email,name,role"]),
        (b"email,name\na@uni.edu,A,extra\n", ["line 2: 3 cells, but the header names 2 columns"]),
        (b"Student,ID,SIS User ID,SIS Login ID,Section\nNo Login,1,,,A\n", ["line 2: no SIS Login ID"]),
        ("email,name\ncaf\u00e9@uni.edu,Caf\u00e9\n".encode("latin-1"), ["not UTF-8"]),
        (b"email,name,role\n\n", ["the roster names nobody"]),
        (b"", ["the roster names nobody"]),
    ],
    ids=["bad-rows", "unknown-column", "unknown-header", "extra-cells", "canvas-no-login", "latin-1", "header-only",
         "empty"],
)
def test_bad_rosters_name_each_bad_line_and_import_nothing(any_db: Session, csv: bytes, message: list[str]) -> None:
    db = any_db
    klass = make_class(db, students=0)
    accounts = db.scalar(select(func.count()).select_from(User))
    with pytest.raises(Rejected) as rejected:
        roster.import_roster(db, klass.instructor, klass.course, csv)
    assert rejected.value.status_code == 422
    for part in message:
        assert part in rejected.value.message
    db.rollback()
    assert db.scalar(select(func.count()).select_from(User)) == accounts
    assert len(_enrolled(db, klass.course.id)) == 1  # the instructor alone


def test_enrolling_changes_a_role_and_dropping_keeps_the_submissions(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    student = klass.students[0]
    submission = submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    assert roster.enrol(db, klass.instructor, klass.course, student.email.upper(), "ta").role == CourseRole.ta
    roster.enrol(db, klass.instructor, klass.course, student.email, "student")
    db.commit()

    roster.drop(db, klass.instructor, klass.course, student.id)
    db.commit()
    assert student.email not in _enrolled(db, klass.course.id)
    assert db.get(Submission, submission.id) is not None
    assert submissions.get_submission(db, klass.instructor, submission.id).id == submission.id
    assert submissions.get_submission(db, student, submission.id).id == submission.id  # their feedback stays theirs
    with pytest.raises(Forbidden):
        courses.get_assignment(db, student, klass.assignment.id)
    with pytest.raises(Forbidden):
        submissions.submit(db, student, klass.assignment, "hw2.py", REFERENCE)
    with pytest.raises(NotFound):
        roster.drop(db, klass.instructor, klass.course, student.id)

    roster.enrol(db, klass.instructor, klass.course, student.email, "student")
    db.commit()
    assert [s.id for s in submissions.submissions_of(db, student)] == [submission.id]


def test_only_instructors_change_the_roster_and_none_their_own_place(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    ta = roster.enrol(db, klass.instructor, klass.course, f"ta-{uuid.uuid4().hex[:8]}@uni.edu", "ta").user
    db.commit()
    for actor in (ta, klass.students[0]):
        with pytest.raises(Forbidden) as refused:
            roster.import_roster(db, actor, klass.course, b"email\nx@uni.edu\n")
        assert "only instructors of" in refused.value.message
        with pytest.raises(Forbidden):
            roster.drop(db, actor, klass.course, klass.students[0].id)
    assert roster.roster(db, ta, klass.course).total == 3  # TAs see the roster
    with pytest.raises(Forbidden):
        roster.roster(db, klass.students[0], klass.course)
    with pytest.raises(Rejected) as yourself:
        roster.drop(db, klass.instructor, klass.course, klass.instructor.id)
    assert yourself.value.status_code == 409
    with pytest.raises(Rejected) as demoted:
        demoting = f"email,role\n{klass.instructor.email},student\n".encode()
        roster.import_roster(db, klass.instructor, klass.course, demoting)
    assert "line 2: that is you" in demoted.value.message


def test_a_roster_larger_than_a_course_is_refused_naming_the_largest_accepted(postgres_db: Session) -> None:
    """70,000 lines fit in an upload but not in one PostgreSQL query (65,535 parameters at most)."""
    db = postgres_db
    klass = make_class(db, students=0)
    huge = ("email\n" + "".join(f"{i}@u.io\n" for i in range(70_000))).encode()
    assert len(huge) < get_settings().max_upload_bytes
    with pytest.raises(Rejected) as refused:
        roster.import_roster(db, klass.instructor, klass.course, huge)
    assert refused.value.status_code == 422
    assert "a roster names at most 10,000 people, not 70,000" in refused.value.message

    tag = uuid.uuid4().hex[:8]
    largest = ("email\n" + "".join(f"{i}-{tag}@u.io\n" for i in range(10_000))).encode()
    assert roster.import_roster(db, klass.instructor, klass.course, largest).enrolled == 10_000
