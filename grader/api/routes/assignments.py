"""Assignments the caller is enrolled in (as a student or an instructor), and their late rules."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.docs import errors
from grader.api.schemas import AssignmentEdit, AssignmentPublic
from grader.db.models import Assignment
from grader.services import courses
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/assignments", tags=["assignments"], responses=errors(401))


@router.get("", response_model=list[AssignmentPublic])
def list_assignments(db: SessionDep, user: CurrentUser) -> list[Assignment]:
    return courses.assignments_for(db, user)


@router.get("/{assignment_id}", response_model=AssignmentPublic, responses=errors(403, 404))
def get_assignment(assignment_id: Id, db: SessionDep, user: CurrentUser) -> Assignment:
    return courses.get_assignment(db, user, assignment_id)


@router.patch("/{assignment_id}", response_model=AssignmentPublic, responses=errors(400, 403, 404, 422, meaning={
    422: "late credit windows, a late rule or a counting rule that cannot be used (the message says why)",
}))
def edit_assignment(assignment_id: Id, body: AssignmentEdit, db: SessionDep, user: CurrentUser) -> Assignment:
    """Change how late work is credited and which submission counts; the credited scores follow
    from the stored runs at once, nothing is graded again."""
    assignment = courses.get_assignment(db, user, assignment_id)
    courses.set_late_rules(db, user, assignment, body.late_credit, body.late_after, body.counts)
    db.commit()
    return assignment
