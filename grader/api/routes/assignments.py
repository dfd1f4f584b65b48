"""Assignments the caller is enrolled in (as a student or an instructor)."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.deps import CurrentUser, SessionDep
from grader.api.schemas import AssignmentPublic
from grader.db.models import Assignment
from grader.services import courses

router = APIRouter(prefix="/assignments", tags=["assignments"])


@router.get("", response_model=list[AssignmentPublic])
def list_assignments(db: SessionDep, user: CurrentUser) -> list[Assignment]:
    return courses.assignments_for(db, user)


@router.get("/{assignment_id}", response_model=AssignmentPublic)
def get_assignment(assignment_id: int, db: SessionDep, user: CurrentUser) -> Assignment:
    return courses.get_assignment(db, user, assignment_id)
