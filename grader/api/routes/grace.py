"""A course's grace days: the budget per student, and the ledger of what late work spent."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.docs import errors
from grader.api.schemas.accounts import UserPublic
from grader.api.schemas.courses import GraceDaysIn, GraceEntryPublic, GraceLedgerPublic, GraceLeftPublic
from grader.services import courses, grace
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/courses/{course_id}/grace", tags=["grace days"], responses=errors(401, 403, 404))


def _ledger(ledger: grace.GraceLedger) -> GraceLedgerPublic:
    return GraceLedgerPublic(
        course_id=ledger.course.id,
        grace_days=ledger.course.grace_days,
        entries=[GraceEntryPublic.model_validate(entry) for entry in ledger.entries],
        left=[GraceLeftPublic(student=UserPublic.model_validate(s), days_left=days) for s, days in ledger.left],
    )


@router.get("", response_model=GraceLedgerPublic)
def grace_ledger(course_id: Id, db: SessionDep, user: CurrentUser) -> GraceLedgerPublic:
    """Who spent grace days on which assignment, and what each student has left."""
    return _ledger(grace.grace_ledger(db, user, courses.get_course(db, user, course_id)))


@router.put("", response_model=GraceLedgerPublic, responses=errors(400, 409, 422, meaning={
    409: "the course is archived"}))
def set_grace_days(course_id: Id, body: GraceDaysIn, db: SessionDep, user: CurrentUser) -> GraceLedgerPublic:
    """Set the budget per student; late work spends it by itself, oldest assignment first."""
    course = courses.get_course(db, user, course_id)
    grace.set_grace_days(db, user, course, body.grace_days)
    return _ledger(grace.grace_ledger(db, user, course))
