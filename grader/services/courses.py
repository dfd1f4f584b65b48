"""Courses, who is enrolled in them with which role, and their assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, Course, CourseRole, Enrolment, Role, User
from grader.rubric_spec import RubricError
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.late_rules import NO_PENALTY, checked_counts, edited_rules, rules_of, store_rules
from grader.services.rubrics import sync_rubric


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


def students_of(db: Session, course: Course) -> list[User]:
    """The course's students, by name."""
    return list(db.scalars(
        select(User).join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == course.id, Enrolment.role == CourseRole.student)
        .order_by(User.name, User.email)
    ))


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
    late_credit: str = "",
    late_after: str | None = None,
    counts: str = "last",
) -> Assignment:
    """An assignment graded by rubrics/<rubric_id>, which must load (its hash is recorded).
    Late work: credit windows ('2d=80,7d=50') and what happens after them (full, zero, reject)."""
    rules = edited_rules(NO_PENALTY, late_credit, late_after)
    if max_submissions is not None and max_submissions < 1:
        raise Rejected(422, "max_submissions must be at least 1")
    if db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)) is not None:
        raise Rejected(409, f"{course.code} already has an assignment {slug!r}")
    assignment = Assignment(
        course_id=course.id, slug=slug, title=title, rubric_id=rubric_id, due_at=due_at,
        max_submissions=max_submissions, counts=checked_counts(counts),
    )
    store_rules(assignment, rules)
    db.add(assignment)
    try:
        sync_rubric(db, assignment)
    except RubricError as exc:
        db.rollback()
        raise Rejected(422, f"rubric {rubric_id!r} cannot be used: {exc}") from exc
    db.commit()
    return assignment


def set_late_rules(
    db: Session, viewer: User, assignment: Assignment,
    late_credit: str | None = None, late_after: str | None = None, counts: str | None = None,
) -> Assignment:
    """Change how late work is credited and which submission counts (None: unchanged). Credited
    scores are computed from the stored runs, so nothing is graded again."""
    require_instructor(db, viewer, assignment.course)
    rules = edited_rules(rules_of(assignment), late_credit, late_after)
    if counts is not None:
        assignment.counts = checked_counts(counts)
    store_rules(assignment, rules)
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
