"""Assignments the caller is enrolled in (as a student, a TA or an instructor); changing their
settings, late rules included; what the caller may still upload."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query

from grader.api.docs import errors
from grader.api.schemas.assignments import AllowancePublic, AssignmentPublic, AssignmentSettingsIn
from grader.db.base import utcnow
from grader.db.models import Assignment
from grader.services import allowance, assignments, courses
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


@router.patch("/{assignment_id}", response_model=AssignmentPublic, responses=errors(400, 403, 404, 409, 422, meaning={
    403: "only the course's instructors change its assignments",
    409: "the course is archived",
    422: "a setting that cannot be used, e.g. late credit windows or a late rule (the message says why)",
}))
def edit_assignment(assignment_id: Id, body: AssignmentSettingsIn, db: SessionDep, user: CurrentUser) -> Assignment:
    """Change the settings sent; the others stay (a lower submission limit holds for later uploads).
    Changed late rules or counting rule show in the credited scores at once: nothing is graded again."""
    assignment = courses.get_assignment(db, user, assignment_id)
    settings = replace(assignments.settings_of(assignment), **body.model_dump(exclude_unset=True))
    assignments.update_assignment(db, user, assignment, settings)
    return assignment


@router.get("/{assignment_id}/allowance", response_model=AllowancePublic, responses=errors(403, 404))
def get_allowance(assignment_id: Id, db: SessionDep, user: CurrentUser) -> allowance.Allowance:
    """Your submissions used and left, the cooldown's wait, and whether uploads have closed."""
    return allowance.allowance(db, user, courses.get_assignment(db, user, assignment_id), utcnow())
