"""Assignments the caller is enrolled in (as a student or an instructor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from grader.api.docs import errors
from grader.api.schemas import AssignmentPublic
from grader.db.models import Assignment
from grader.services import courses
from grader.web.deps import CurrentUser, Id, SessionDep, Text

router = APIRouter(prefix="/assignments", tags=["assignments"], responses=errors(401))


@router.get("", response_model=list[AssignmentPublic], responses=errors(422))
def list_assignments(
    db: SessionDep,
    user: CurrentUser,
    slug: Annotated[Text | None, Query(max_length=100, description="only assignments with this slug")] = None,
    course: Annotated[Text | None, Query(max_length=50, description="only those of the course with this code")] = None,
) -> list[Assignment]:
    """The assignments of your courses, in course order."""
    return courses.assignments_for(db, user, slug, course)


@router.get("/{assignment_id}", response_model=AssignmentPublic, responses=errors(403, 404))
def get_assignment(assignment_id: Id, db: SessionDep, user: CurrentUser) -> Assignment:
    return courses.get_assignment(db, user, assignment_id)
