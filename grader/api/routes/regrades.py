"""Regrades of a whole assignment, a filtered set or one submission; their progress and diff."""

from __future__ import annotations

from fastapi import APIRouter, status

from grader.api.docs import errors
from grader.api.schemas.regrades import RegradeBatchPublic, RegradeIn
from grader.db.models import RegradeBatch
from grader.services import courses, regrades
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(tags=["regrades"], responses=errors(401, 403, 404))


@router.post(
    "/assignments/{assignment_id}/regrades",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegradeBatchPublic,
    responses=errors(400, 404, 409, 422, meaning={
        404: "no such assignment, or a listed submission is not one of its submissions",
        409: "no submission matches: nothing to regrade, or the published rubric version cannot be read",
        422: "a bad body",
    }),
)
def start_regrade(assignment_id: Id, body: RegradeIn, db: SessionDep, user: CurrentUser) -> RegradeBatch:
    """Grade the chosen submissions again with the published rubric version."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return regrades.start_regrade(db, user, assignment, body.reason, body.submission_ids, body.since)


@router.get("/regrades/{batch_id}", response_model=regrades.RegradeProgress)
def regrade_progress(batch_id: Id, db: SessionDep, user: CurrentUser) -> regrades.RegradeProgress:
    return regrades.regrade_progress(db, user, batch_id)


@router.get("/regrades/{batch_id}/diff", response_model=list[regrades.ScoreChange])
def regrade_diff(batch_id: Id, db: SessionDep, user: CurrentUser) -> list[regrades.ScoreChange]:
    """Whose auto score changed, from what to what (finished items only)."""
    return regrades.regrade_diff(db, user, batch_id)
