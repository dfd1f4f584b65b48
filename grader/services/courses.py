"""Courses: creating, listing, archiving and reopening them, and finding a course's assignments.

Nothing here commits: the caller (a route, a page, a CLI command) owns the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, contains_eager

from grader.db.base import utcnow
from grader.db.models import Assignment, Course, CourseRole, Enrolment, Role, User
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.permissions import course_role, require_change_settings

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")
MAX_TITLE_CHARS = 200
# Due dates, releases and extensions end before this: past any term, yet centuries before the
# calendar's end (9999-12-31), so the longest late window and grace-day budget (a year each) still
# fit after a due date when the last time to upload is computed.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# What an archived course takes no more of, in the refusal and on its dashboard alike.
ARCHIVED_REFUSES = ("uploads, enrolments, or changes to assignments, extensions, grace days or the submissions "
                    "that count")


@dataclass(frozen=True)
class Membership:
    course: Course
    role: CourseRole


def clean_title(title: str) -> str:
    """A title as stored: stripped, 1 to 200 characters."""
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE_CHARS:
        raise Rejected(422, f"a title has 1 to {MAX_TITLE_CHARS} characters, not {len(title)}")
    return title


def in_utc(moment: datetime) -> datetime:
    """The moment in UTC, one without a zone read as UTC. ValueError (its message follows the
    value in a refusal) where UTC has no such date: year 1 at +14:00 is still year 0 there."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("has no UTC equivalent: in UTC it falls outside the years 1 to 9999") from None


def check_time(label: str, moment: datetime | None) -> None:
    """Refuse (422) a due date, release or extension without a time zone, or from LATEST on."""
    if moment is None:
        return
    if moment.tzinfo is None:
        raise Rejected(422, f"{label} needs a time zone (UTC, say)")
    if moment >= LATEST:
        raise Rejected(422, f"{label} must be before {LATEST:%Y-%m-%d}, not {moment:%Y-%m-%d}")


def create_course(db: Session, actor: User, code: str, title: str) -> Course:
    """A new course; an instructor who creates one teaches it (admins teach every course anyway)."""
    if actor.role not in (Role.instructor, Role.admin):
        raise Forbidden("only instructors and admins can create courses")
    if not CODE.fullmatch(code):
        raise Rejected(422, f"a course code is 1 to 50 letters, digits, '.', '_' or '-', not {code!r}")
    if db.scalar(select(Course).where(Course.code == code)) is not None:
        raise Rejected(409, f"a course with code {code} already exists")
    course = Course(code=code, title=clean_title(title))
    db.add(course)
    db.flush()
    if actor.role != Role.admin:
        db.add(Enrolment(course_id=course.id, user_id=actor.id, role=CourseRole.instructor))
        db.flush()
    return course


def require_open(course: Course) -> None:
    """Refuse a change to an archived course (409): its credited scores are final, so nothing that
    moves them (rules, extensions, grace days, the submission that counts) changes either."""
    if course.archived_at is not None:
        raise Rejected(409, f"{course.code} is archived: it takes no more {ARCHIVED_REFUSES} "
                            "(its instructors can reopen it)")


def archive_course(db: Session, actor: User, course: Course) -> None:
    """Freeze the course: what is there stays readable and gradable; archiving twice is a no-op."""
    require_change_settings(db, actor, course)
    if course.archived_at is None:
        course.archived_at = utcnow()
        db.flush()


def reopen_course(db: Session, actor: User, course: Course) -> None:
    """Undo archiving (a course archived too early): it takes uploads, enrolments and the changes
    `require_open` refuses again. Reopening an open course is a no-op."""
    require_change_settings(db, actor, course)
    if course.archived_at is not None:
        course.archived_at = None
        db.flush()


def courses_of(db: Session, user: User) -> list[Membership]:
    """The courses the user is enrolled in (admins: all), open ones first, then by code."""
    order = (Course.archived_at.is_not(None), Course.code)
    if user.role == Role.admin:
        return [Membership(course, CourseRole.instructor) for course in db.scalars(select(Course).order_by(*order))]
    rows = db.execute(
        select(Course, Enrolment.role).join(Enrolment, Enrolment.course_id == Course.id)
        .where(Enrolment.user_id == user.id).order_by(*order)
    ).all()
    return [Membership(course, role) for course, role in rows]


def _students(course: Course) -> Select[User]:
    return (select(User).join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.course_id == course.id, Enrolment.role == CourseRole.student))


def student_ids(course: Course) -> Select[tuple[int]]:
    """The ids of the course's students, for counting only their work (not staff or dropped students')."""
    return _students(course).with_only_columns(User.id)


def students_of(db: Session, course: Course) -> list[User]:
    """The course's students, by name."""
    return list(db.scalars(_students(course).order_by(User.name, User.email)))


def student_of(db: Session, course: Course, user_id: int) -> User:
    """The course's student with this id. Routes take any id, so NotFound says only that it is no
    student here, never whose it is; check the caller's permission first."""
    student = db.scalar(_students(course).where(User.id == user_id))
    if student is None:
        raise NotFound(f"user {user_id} is not a student of {course.code}")
    return student


def get_course(db: Session, viewer: User, course_id: int) -> Course:
    course = db.get(Course, course_id)
    if course is None:
        raise NotFound(f"no course {course_id}")
    if course_role(db, viewer, course.id) is None:
        raise Forbidden("you are not enrolled in this course")
    return course


def find_course(db: Session, code: str) -> Course:
    """A course by its code (for the CLI)."""
    course = db.scalar(select(Course).where(Course.code == code))
    if course is None:
        raise NotFound(f"no course {code!r}")
    return course


def assignments_for(
    db: Session, user: User, slug: str | None = None, course_code: str | None = None
) -> list[Assignment]:
    """The assignments of the user's courses (admins: all), optionally only those named `slug` and
    those of the course `course_code`: how the student commands find an assignment by name."""
    query = select(Assignment).join(Assignment.course).options(contains_eager(Assignment.course))
    if user.role != Role.admin:
        query = query.join(Enrolment, Enrolment.course_id == Assignment.course_id).where(Enrolment.user_id == user.id)
    if slug is not None:
        query = query.where(Assignment.slug == slug)
    if course_code is not None:
        query = query.where(Course.code == course_code)
    return list(db.scalars(query.order_by(Assignment.course_id, Assignment.id)))


def assignments_of(db: Session, course: Course) -> list[Assignment]:
    return list(db.scalars(select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)))


def get_assignment(db: Session, viewer: User, assignment_id: int) -> Assignment:
    assignment = db.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"no assignment {assignment_id}")
    if course_role(db, viewer, assignment.course_id) is None:
        raise Forbidden("you are not enrolled in this course")
    return assignment


def find_assignment(db: Session, slug: str, course_code: str | None = None) -> Assignment:
    """An assignment by slug (for the CLI); the course code is needed only when the slug is ambiguous."""
    query = select(Assignment).join(Course).where(Assignment.slug == slug)
    if course_code is not None:
        query = query.where(Course.code == course_code)
    found = list(db.scalars(query))
    if not found:
        raise NotFound(f"no assignment {slug!r}" + (f" in {course_code}" if course_code else ""))
    if len(found) > 1:
        raise Rejected(409, f"{len(found)} courses have an assignment {slug!r}: name the course")
    return found[0]
