"""Courses, who is enrolled in them with which role, and their assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, Course, CourseRole, Enrolment, LatePolicy, Role, User
from grader.rubric_spec import RubricError
from grader.services import rubrics
from grader.services.errors import Forbidden, NotFound, Rejected


def create_course(db: Session, code: str, title: str) -> Course:
    if db.scalar(select(Course).where(Course.code == code)) is not None:
        raise Rejected(409, f"a course with code {code} already exists")
    course = Course(code=code, title=title)
    db.add(course)
    db.commit()
    return course


def enroll(db: Session, user: User, course: Course, role: str) -> Enrolment:
    """Enrol `user`, or change the role of an existing enrolment."""
    if role not in CourseRole.__members__:
        raise Rejected(422, f"course role must be one of {', '.join(CourseRole)}, not {role!r}")
    enrolment = db.scalar(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user.id))
    if enrolment is None:
        enrolment = Enrolment(course_id=course.id, user_id=user.id, role=CourseRole(role))
        db.add(enrolment)
    else:
        enrolment.role = CourseRole(role)
    db.commit()
    return enrolment


def course_role(db: Session, user: User, course_id: int) -> CourseRole | None:
    """The user's role in the course; admins count as instructors everywhere."""
    if user.role == Role.admin:
        return CourseRole.instructor
    return db.scalar(select(Enrolment.role).where(Enrolment.course_id == course_id, Enrolment.user_id == user.id))


def is_course_staff(db: Session, user: User, course_id: int) -> bool:
    return course_role(db, user, course_id) == CourseRole.instructor


def require_instructor(db: Session, user: User, course: Course) -> None:
    if not is_course_staff(db, user, course.id):
        raise Forbidden(f"only instructors of {course.code} can do this")


def create_assignment(
    db: Session,
    course: Course,
    slug: str,
    title: str,
    rubric_id: str,
    due_at: datetime | None = None,
    max_submissions: int | None = None,
    late_policy: str = "none",
) -> Assignment:
    """An assignment graded by rubrics/<rubric_id>, which must load: the folder is stored as its
    first published version. Not committed."""
    if late_policy not in LatePolicy.__members__:
        raise Rejected(422, f"late policy must be one of {', '.join(LatePolicy)}, not {late_policy!r}")
    if max_submissions is not None and max_submissions < 1:
        raise Rejected(422, "max_submissions must be at least 1")
    if db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)) is not None:
        raise Rejected(409, f"{course.code} already has an assignment {slug!r}")
    assignment = Assignment(
        course_id=course.id, slug=slug, title=title, rubric_id=rubric_id, due_at=due_at,
        max_submissions=max_submissions, late_policy=LatePolicy(late_policy),
    )
    try:
        rubrics.publish_from_disk(db, assignment)
    except RubricError as exc:
        raise Rejected(422, f"rubric {rubric_id!r} cannot be used: {exc}") from exc
    db.add(assignment)
    db.flush()
    return assignment


def assignments_for(db: Session, user: User) -> list[Assignment]:
    query = select(Assignment).order_by(Assignment.course_id, Assignment.id)
    if user.role != Role.admin:
        query = query.join(Enrolment, Enrolment.course_id == Assignment.course_id).where(Enrolment.user_id == user.id)
    return list(db.scalars(query))


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
