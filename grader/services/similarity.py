"""Similarity runs as the course staff see them: start one, watch its progress, read its pairs.

The comparison itself runs in a worker (grader.services.similarity_runs with grader.copy_detection);
this side loads no copydetect or numpy, so the API process can use it. Only the course staff who
see everyone's work (instructors, TAs, admins) reach any of it; students get 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from typing_extensions import TypedDict  # the variant pydantic accepts on 3.11 (the API returns these)

from grader.db.models import Assignment, SimilarityPair, SimilarityRun, SimilarityStatus, Submission, User
from grader.services import queue
from grader.services.broker import SIMILARITY_TASK
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_view_all
from grader.submission import SubmissionError, prepare_source

ACTIVE_STATUSES = frozenset({SimilarityStatus.queued, SimilarityStatus.running})  # a run still to finish
DEFAULT_THRESHOLD = 0.6


class SimilarityProgress(TypedDict):
    id: int
    assignment_id: int
    status: Literal["queued", "running", "finished", "failed"]
    threshold: float
    submissions: int
    done: int
    total: int
    percent: float
    pairs: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PairSummary(TypedDict):
    id: int
    submission_a_id: int
    student_a: str
    submission_b_id: int
    student_b: str
    score: float
    similarity_a: float
    similarity_b: float


@dataclass(frozen=True)
class Segment:
    """A piece of a source, shared with the other side or not (the page escapes and marks it)."""

    text: str
    shared: bool


@dataclass(frozen=True)
class PairSide:
    submission: Submission
    similarity: float
    source: str
    spans: list[tuple[int, int]]

    @property
    def segments(self) -> list[Segment]:
        return segments(self.source, self.spans)


@dataclass(frozen=True)
class PairView:
    pair: SimilarityPair
    run: SimilarityRun
    a: PairSide
    b: PairSide


def start_run(db: Session, requested_by: User, assignment: Assignment,
              threshold: float = DEFAULT_THRESHOLD) -> SimilarityRun:
    """A new run of the assignment, sent to a worker when the caller commits."""
    require_view_all(db, requested_by, assignment.course)
    if not 0 < threshold <= 1:  # also refuses NaN
        raise Rejected(422, f"the threshold is a share of the code, above 0 and at most 1, not {threshold}")
    run = SimilarityRun(assignment_id=assignment.id, requested_by_id=requested_by.id, threshold=threshold)
    db.add(run)
    db.flush()
    queue.send_after_commit(db, SIMILARITY_TASK, [run.id])
    return run


def get_run(db: Session, viewer: User, run_id: int) -> SimilarityRun:
    run = db.get(SimilarityRun, run_id)
    if run is None:
        raise NotFound(f"no similarity run {run_id}")
    require_view_all(db, viewer, run.assignment.course)
    return run


def runs_of(db: Session, viewer: User, assignment: Assignment) -> list[SimilarityRun]:
    """Newest first."""
    require_view_all(db, viewer, assignment.course)
    query = select(SimilarityRun).where(SimilarityRun.assignment_id == assignment.id).order_by(SimilarityRun.id.desc())
    return list(db.scalars(query))


def run_progress(db: Session, viewer: User, run_id: int) -> SimilarityProgress:
    run = get_run(db, viewer, run_id)
    pairs = db.scalar(select(func.count()).where(SimilarityPair.run_id == run.id)) or 0
    percent = 100.0 if run.status == SimilarityStatus.finished else (
        round(100.0 * run.done / run.total, 1) if run.total else 0.0)
    return SimilarityProgress(
        id=run.id, assignment_id=run.assignment_id, status=run.status.value, threshold=run.threshold,
        submissions=run.submissions, done=run.done, total=run.total, percent=percent, pairs=pairs,
        error=run.error, created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
    )


def list_pairs(db: Session, viewer: User, run_id: int) -> list[PairSummary]:
    """The pairs found so far, most similar first."""
    run = get_run(db, viewer, run_id)
    sub_a, sub_b = aliased(Submission), aliased(Submission)
    user_a, user_b = aliased(User), aliased(User)
    rows = db.execute(
        select(SimilarityPair, user_a.email, user_b.email)
        .join(sub_a, sub_a.id == SimilarityPair.submission_a_id).join(user_a, user_a.id == sub_a.user_id)
        .join(sub_b, sub_b.id == SimilarityPair.submission_b_id).join(user_b, user_b.id == sub_b.user_id)
        .where(SimilarityPair.run_id == run.id)
        .order_by(SimilarityPair.score.desc(), SimilarityPair.id)
    ).all()
    return [
        PairSummary(id=pair.id, submission_a_id=pair.submission_a_id, student_a=email_a,
                    submission_b_id=pair.submission_b_id, student_b=email_b, score=pair.score,
                    similarity_a=pair.similarity_a, similarity_b=pair.similarity_b)
        for pair, email_a, email_b in rows
    ]


def _source(submission: Submission) -> str:
    """The code the worker compared (a notebook's code cells), which the spans index."""
    try:
        return prepare_source(submission.filename, submission.content)
    except SubmissionError:  # not compared by the worker, so no pair names it; shown as is all the same
        return submission.content.decode("utf-8", errors="replace")


def get_pair(db: Session, viewer: User, pair_id: int) -> PairView:
    pair = db.get(SimilarityPair, pair_id)
    if pair is None:
        raise NotFound(f"no similarity pair {pair_id}")
    run = get_run(db, viewer, pair.run_id)
    sides = [
        PairSide(submission, similarity, _source(submission), [(start, end) for start, end in spans])
        for submission, similarity, spans in ((pair.submission_a, pair.similarity_a, pair.spans_a),
                                              (pair.submission_b, pair.similarity_b, pair.spans_b))
    ]
    return PairView(pair, run, *sides)


def segments(text: str, spans: list[tuple[int, int]]) -> list[Segment]:
    """`text` cut into shared and unshared pieces; spans may overlap or run past the end."""
    pieces: list[Segment] = []
    position = 0
    for start, end in sorted(spans):
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue
        if start > position:
            pieces.append(Segment(text[position:start], False))
        pieces.append(Segment(text[start:end], True))
        position = end
    if position < len(text):
        pieces.append(Segment(text[position:], False))
    return pieces
