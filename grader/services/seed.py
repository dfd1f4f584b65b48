"""A demo course for `make run`: an admin (for the operators' commands), an instructor, a student and
HW2, with passwords and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Assignment, Course, User
from grader.services import assignments, courses, roster, users

DEMO_COURSE = ("DL-DEMO", "Deep Learning (demo)")
DEMO_ASSIGNMENT = ("hw2", "HW2: convolutions, gated RNNs and AttentionRNN", "hw2")
DEMO_PEOPLE = {
    "admin": ("admin@example.edu", "Alex Admin", "admin", "admin-demo"),
    "instructor": ("instructor@example.edu", "Ada Instructor", "instructor", "instructor-demo"),
    "student": ("student@example.edu", "Sam Student", "student", "student-demo"),
}
DUE_IN = timedelta(days=14)


def _account(db: Session, key: str) -> User:
    email, name, role, password = DEMO_PEOPLE[key]
    return users.get_user_by_email(db, email) or users.create_user(db, email, name, role, password)


def _person(db: Session, key: str, user: User) -> dict[str, Any]:
    email, _name, _role, password = DEMO_PEOPLE[key]
    return {"user": user, "email": email, "password": password, "token": users.issue_token(db, user, label="demo")}


def seed_demo(db: Session) -> dict[str, Any]:
    """Create what is missing (safe to run at every start); each call issues fresh API tokens. Not
    committed: the caller commits it all at once.

    Returns {"course", "assignment", "admin": {"user", "email", "password", "token"}, "instructor": {...},
    "student": {...}}.
    """
    admin, instructor, student = _account(db, "admin"), _account(db, "instructor"), _account(db, "student")
    code, title = DEMO_COURSE
    course = db.scalar(select(Course).where(Course.code == code)) or courses.create_course(db, instructor, code, title)
    roster.enrol(db, instructor, course, student.email, "student")
    slug, assignment_title, rubric_id = DEMO_ASSIGNMENT
    assignment = db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug))
    if assignment is None:
        settings = assignments.AssignmentSettings(title=assignment_title, due_at=utcnow() + DUE_IN)
        assignment = assignments.create_assignment(db, instructor, course, slug, rubric_id, settings)
    return {
        "course": course,
        "assignment": assignment,
        "admin": _person(db, "admin", admin),  # an admin sees every course without an enrolment
        "instructor": _person(db, "instructor", instructor),
        "student": _person(db, "student", student),
    }
