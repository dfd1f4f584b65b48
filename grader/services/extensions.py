"""Per-student extensions: a due date of the student's own for one assignment. Late credit and
the upload deadline count from it; nothing is graded again when one is granted or revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Assignment, Extension, User
from grader.services.courses import check_time, require_open, student_of
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_change_settings, require_view_all


def _extension(db: Session, assignment: Assignment, user_id: int) -> Extension | None:
    return db.scalar(select(Extension).where(Extension.assignment_id == assignment.id,
                                             Extension.user_id == user_id))


def grant_extension(
    db: Session, viewer: User, assignment: Assignment, student_id: int, due_at: datetime, reason: str = ""
) -> Extension:
    """Give the student `student_id` the due date `due_at` (replacing an earlier extension)."""
    require_change_settings(db, viewer, assignment.course)
    require_open(assignment.course)
    if assignment.due_at is None:
        raise Rejected(409, f"{assignment.slug} has no due date to extend")
    check_time("an extension's due date", due_at)
    if due_at <= assignment.due_at:
        raise Rejected(422, f"an extension must end after the due date ({assignment.due_at:%Y-%m-%d %H:%M} UTC), "
                            f"not at {due_at:%Y-%m-%d %H:%M} UTC")
    student = student_of(db, assignment.course, student_id)
    extension = _extension(db, assignment, student.id)
    if extension is None:
        extension = Extension(assignment_id=assignment.id, user_id=student.id)
        db.add(extension)
    extension.due_at = due_at
    extension.reason = reason
    extension.granted_by_id = viewer.id
    extension.granted_at = utcnow()
    db.flush()
    return extension


def extensions_of(db: Session, viewer: User, assignment: Assignment) -> list[Extension]:
    """The assignment's extensions, by student name (the course's staff see them)."""
    require_view_all(db, viewer, assignment.course)
    return list(db.scalars(select(Extension).join(Extension.user).where(Extension.assignment_id == assignment.id)
                           .order_by(User.name, User.email)))


def revoke_extension(db: Session, viewer: User, assignment: Assignment, student_id: int) -> None:
    """Take back the extension of `student_id`, who may have been dropped since (it stays then)."""
    require_change_settings(db, viewer, assignment.course)
    require_open(assignment.course)
    extension = _extension(db, assignment, student_id)
    if extension is None:
        raise NotFound(f"{student_of(db, assignment.course, student_id).email} has no extension for {assignment.slug}")
    db.delete(extension)
    db.flush()
