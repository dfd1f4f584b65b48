"""Similarity runs of an assignment (instructors and TAs): start one, read its progress and its pairs."""

from __future__ import annotations

from fastapi import APIRouter, status

from grader.api.docs import errors
from grader.api.schemas.analysis import PairSidePublic, SimilarityIn, SimilarityPairPublic
from grader.services import courses, similarity
from grader.services.similarity import PairSide
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(tags=["similarity"], responses=errors(401, 403, 404))


@router.post(
    "/assignments/{assignment_id}/similarity",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=similarity.SimilarityProgress,
    responses=errors(400, 422, meaning={422: "a bad body, or a threshold not above 0 and at most 1"}),
)
def start_similarity(
    assignment_id: Id, body: SimilarityIn, db: SessionDep, user: CurrentUser
) -> similarity.SimilarityProgress:
    """Compare every student's latest submission with every other's, the handout discounted.
    Poll GET /api/similarity/{id} for progress, then read the pairs."""
    run = similarity.start_run(db, user, courses.get_assignment(db, user, assignment_id), body.threshold)
    return similarity.run_progress(db, user, run.id)  # the task is sent when SessionDep commits


@router.get("/similarity/{run_id}", response_model=similarity.SimilarityProgress)
def similarity_progress(run_id: Id, db: SessionDep, user: CurrentUser) -> similarity.SimilarityProgress:
    return similarity.run_progress(db, user, run_id)


@router.get("/similarity/{run_id}/pairs", response_model=list[similarity.PairSummary])
def similarity_pairs(run_id: Id, db: SessionDep, user: CurrentUser) -> list[similarity.PairSummary]:
    """The pairs at or above the run's threshold found so far, most similar first."""
    return similarity.list_pairs(db, user, run_id)


def _side(side: PairSide) -> PairSidePublic:
    return PairSidePublic(submission_id=side.submission.id, student=side.submission.user.email,
                          filename=side.submission.filename, similarity=side.similarity, source=side.source,
                          spans=side.spans)


@router.get("/similarity/pairs/{pair_id}", response_model=SimilarityPairPublic)
def similarity_pair(pair_id: Id, db: SessionDep, user: CurrentUser) -> SimilarityPairPublic:
    """Both sources with the character spans they share."""
    view = similarity.get_pair(db, user, pair_id)
    return SimilarityPairPublic(id=view.pair.id, run_id=view.run.id, score=view.pair.score,
                                a=_side(view.a), b=_side(view.b))
