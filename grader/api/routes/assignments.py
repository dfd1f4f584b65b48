"""Assignments the caller is enrolled in (as a student or an instructor)."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.docs import errors
from grader.api.schemas import AssignmentPublic
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
