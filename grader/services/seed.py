"""A demo course for `make run`: an instructor, a student and HW2, with passwords and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Assignment, Course
from grader.services import courses, users

DEMO_COURSE = ("DL-DEMO", "Deep Learning (demo)")
DEMO_ASSIGNMENT = ("hw2", "HW2: convolutions, gated RNNs and AttentionRNN", "hw2")
DEMO_PEOPLE = {
    "instructor": ("instructor@example.edu", "Ada Instructor", "instructor", "instructor-demo"),
    "student": ("student@example.edu", "Sam Student", "student", "student-demo"),
}
DUE_IN = timedelta(days=14)


def _person(db: Session, course: Course, key: str) -> dict[str, Any]:
    email, name, role, password = DEMO_PEOPLE[key]
    user = users.get_user_by_email(db, email) or users.create_user(db, email, name, role, password)
    courses.enroll(db, user, course, role)
    return {"user": user, "email": email, "password": password, "token": users.issue_token(db, user, label="demo")}


def seed_demo(db: Session) -> dict[str, Any]:
    """Create what is missing (safe to run at every start); each call issues fresh API tokens.

    Returns {"course", "assignment", "instructor": {"user", "email", "password", "token"}, "student": {...}}.
    """
    code, title = DEMO_COURSE
    course = db.scalar(select(Course).where(Course.code == code)) or courses.create_course(db, code, title)
    slug, assignment_title, rubric_id = DEMO_ASSIGNMENT
    assignment = db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug))
    if assignment is None:
        assignment = courses.create_assignment(db, course, slug, assignment_title, rubric_id, due_at=utcnow() + DUE_IN)
        db.commit()
    return {
        "course": course,
        "assignment": assignment,
        "instructor": _person(db, course, "instructor"),
        "student": _person(db, course, "student"),
    }
