"""Regrades of a whole assignment, a filtered set or one submission; their progress and diff."""

from __future__ import annotations

from fastapi import APIRouter, status

from grader.api.deps import CurrentUser, SessionDep
from grader.api.schemas import RegradeBatchPublic, RegradeIn
from grader.db.models import RegradeBatch
from grader.services import courses, regrades

router = APIRouter(tags=["regrades"])


@router.post(
    "/assignments/{assignment_id}/regrades",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegradeBatchPublic,
)
def start_regrade(assignment_id: int, body: RegradeIn, db: SessionDep, user: CurrentUser) -> RegradeBatch:
    """Grade the chosen submissions again on the rubric now on disk."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return regrades.start_regrade(db, user, assignment, body.reason, body.submission_ids, body.since)


@router.get("/regrades/{batch_id}", response_model=regrades.RegradeProgress)
def regrade_progress(batch_id: int, db: SessionDep, user: CurrentUser) -> regrades.RegradeProgress:
    return regrades.regrade_progress(db, user, batch_id)


@router.get("/regrades/{batch_id}/diff", response_model=list[regrades.ScoreChange])
def regrade_diff(batch_id: int, db: SessionDep, user: CurrentUser) -> list[regrades.ScoreChange]:
    """Whose auto score changed, from what to what (finished items only)."""
    return regrades.regrade_diff(db, user, batch_id)
