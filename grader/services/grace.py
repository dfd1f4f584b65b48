"""A course's grace days: a budget per student that late work spends by itself (the order and
the rule are in grader.services.standings), and the ledger of what was spent where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from grader.db.models import Assignment, Course, User
from grader.services.courses import require_open, students_of
from grader.services.errors import Rejected
from grader.services.permissions import require_change_settings, require_view_all
from grader.services.standings import spend_in_order

MAX_GRACE_DAYS = 365


@dataclass(frozen=True)
class GraceEntry:
    student: User
    assignment: Assignment
    submission_id: int
    late_by: timedelta
    days: int
    left: int  # after this assignment


@dataclass(frozen=True)
class GraceLedger:
    course: Course
    entries: list[GraceEntry]  # in the order the days were spent
    left: list[tuple[User, int]]  # every student's days left, by name


def set_grace_days(db: Session, viewer: User, course: Course, days: int) -> Course:
    """The budget per student; the credit of late work follows at the next read, nothing is graded again."""
    require_change_settings(db, viewer, course)
    require_open(course)
    if not 0 <= days <= MAX_GRACE_DAYS:
        raise Rejected(422, f"grace days must be from 0 to {MAX_GRACE_DAYS}, not {days}")
    course.grace_days = days
    db.flush()
    return course


def grace_ledger(db: Session, viewer: User, course: Course) -> GraceLedger:
    """Who spent grace days where (the course's staff see it)."""
    require_view_all(db, viewer, course)
    students = students_of(db, course)
    left = {s.id: course.grace_days for s in students}
    entries = []
    if course.grace_days > 0:
        for assignment, table in spend_in_order(db, course, students, left):
            entries += [GraceEntry(st.student, assignment, st.counted.submission.id, st.counted.late_by,
                                   st.counted.grace_days, left[user_id])
                        for user_id, st in table.items() if st.counted is not None and st.counted.grace_days]
    return GraceLedger(course, entries, [(s, left[s.id]) for s in students])
