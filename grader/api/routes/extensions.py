"""Per-student extensions of an assignment's due date, for its instructors."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from grader.api.docs import errors
from grader.api.schemas.assignments import ExtensionIn, ExtensionPublic
from grader.db.models import Extension
from grader.services import courses, extensions
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/assignments/{assignment_id}/extensions", tags=["extensions"],
                   responses=errors(401, 403, 404))


@router.get("", response_model=list[ExtensionPublic])
def list_extensions(assignment_id: Id, db: SessionDep, user: CurrentUser) -> list[Extension]:
    return extensions.extensions_of(db, user, courses.get_assignment(db, user, assignment_id))


@router.put("/{user_id}", response_model=ExtensionPublic, responses=errors(400, 404, 409, 422, meaning={
    404: "no such assignment, or the user is not a student of its course",
    409: "the assignment has no due date, or the course is archived",
    422: "a due date not after the assignment's or from the year 9000 on, or a bad body",
}))
def grant_extension(assignment_id: Id, user_id: Id, body: ExtensionIn, db: SessionDep,
                    user: CurrentUser) -> Extension:
    """Give one student a due date of their own (replacing an earlier one); late credit counts from it."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return extensions.grant_extension(db, user, assignment, user_id, body.due_at, body.reason)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 409, meaning={
    404: "no such assignment, a user who is not a student of its course, or no extension to take back",
    409: "the course is archived",
}))
def revoke_extension(assignment_id: Id, user_id: Id, db: SessionDep, user: CurrentUser) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    extensions.revoke_extension(db, user, assignment, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
