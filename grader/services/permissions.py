"""Who may do what in a course, decided in one table from the viewer's course role.

Instructors may do everything; TAs see everyone's work, grade and regrade, but do not change the
course (its roster, assignments, archive); students see their own work only. Admins count as
instructors of every course. Every service checks through these functions, never a role by name.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Course, CourseRole, Enrolment, Role, User
from grader.services.errors import Forbidden


class Permission(Enum):
    view_all = "see everyone's work"
    grade = "grade or regrade"
    change_settings = "change its roster, assignments or settings"


GRANTED: dict[CourseRole, frozenset[Permission]] = {
    CourseRole.instructor: frozenset(Permission),
    CourseRole.ta: frozenset({Permission.view_all, Permission.grade}),
    CourseRole.student: frozenset(),
}


def _who(permission: Permission) -> str:
    roles = [role for role in (CourseRole.instructor, CourseRole.ta) if permission in GRANTED[role]]
    return " and ".join("TAs" if role == CourseRole.ta else f"{role.value}s" for role in roles)


def course_role(db: Session, user: User, course_id: int) -> CourseRole | None:
    """The user's role in the course (None: not enrolled); admins count as instructors everywhere."""
    if user.role == Role.admin:
        return CourseRole.instructor
    return db.scalar(select(Enrolment.role).where(Enrolment.course_id == course_id, Enrolment.user_id == user.id))


def roles_granting(permission: Permission) -> list[CourseRole]:
    """The course roles that have `permission` (for queries over many courses at once)."""
    return [role for role, granted in GRANTED.items() if permission in granted]


def _can(db: Session, user: User, course_id: int, permission: Permission) -> bool:
    role = course_role(db, user, course_id)
    return role is not None and permission in GRANTED[role]


def _require(db: Session, user: User, course: Course, permission: Permission) -> None:
    if not _can(db, user, course.id, permission):
        raise Forbidden(f"only {_who(permission)} of {course.code} can {permission.value}")


def can_view_all(db: Session, user: User, course_id: int) -> bool:
    """Everyone's submissions, scores, feedback (hidden questions too), runs and the roster."""
    return _can(db, user, course_id, Permission.view_all)


def can_grade(db: Session, user: User, course_id: int) -> bool:
    """Manual grades and regrades."""
    return _can(db, user, course_id, Permission.grade)


def can_change_settings(db: Session, user: User, course_id: int) -> bool:
    """The roster, the assignments and their settings, archiving the course."""
    return _can(db, user, course_id, Permission.change_settings)


def require_view_all(db: Session, user: User, course: Course) -> None:
    _require(db, user, course, Permission.view_all)


def require_grade(db: Session, user: User, course: Course) -> None:
    _require(db, user, course, Permission.grade)


def require_change_settings(db: Session, user: User, course: Course) -> None:
    _require(db, user, course, Permission.change_settings)
