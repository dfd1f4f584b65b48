"""A similarity run as a worker does it: claim it, read the sources, record progress and pairs, end it.

The comparison itself (grader.copy_detection, which loads numpy) stays in the worker, which hands
its matches in. Nothing here commits: the task commits after each step, so progress and pairs show
while it runs. A task delivered again (its worker died, or a duplicate) starts the run over under
a new attempt number, and the older attempt's writes are refused with Superseded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import (
    Assignment,
    SimilarityPair,
    SimilarityRun,
    SimilarityStatus,
    Submission,
)
from grader.services.latest import latest_submission_ids
from grader.submission import SUPPORTED_SUFFIXES, SubmissionError, prepare_source

if TYPE_CHECKING:  # the worker hands its matches in; the services never import copydetect
    from grader.copy_detection import Match

CHUNK = 64  # submissions read at a time: the sources are streamed, never all held at once


class Superseded(Exception):
    """A later attempt has taken the run over (or it is over): this one must stop."""


@dataclass(frozen=True)
class Job:
    run_id: int
    attempt: int
    threshold: float
    submission_ids: tuple[int, ...]
    boilerplate: tuple[str, ...]


def steps(files: int) -> int:
    """The work of a run: each file fingerprinted once, then each pair compared once."""
    return files + files * (files - 1) // 2


def sources(db: Session, submission_ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    """(id, code) of each submission that can be read as code, a chunk of rows at a time."""
    for first in range(0, len(submission_ids), CHUNK):
        chunk = submission_ids[first:first + CHUNK]
        rows = db.execute(
            select(Submission.id, Submission.filename, Submission.content)
            .where(Submission.id.in_(chunk)).order_by(Submission.id)
        ).all()
        for submission_id, filename, content in rows:
            try:
                yield submission_id, prepare_source(filename, content)
            except SubmissionError:
                continue  # ungradable uploads are compared with nothing


def _handout(assignment: Assignment) -> tuple[str, ...]:
    """The files students start from, as code: what every submission may share."""
    folder = get_settings().rubrics_dir / assignment.rubric_id / "handout"
    found = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix in SUPPORTED_SUFFIXES:
            try:
                found.append(prepare_source(path.name, path.read_bytes()))
            except SubmissionError:
                continue  # an empty placeholder file: nothing to discount
    return tuple(found)


def begin(db: Session, run_id: int) -> Job | None:
    """Start (or start over) the run; None when it is over or gone (a message delivered late)."""
    run = db.get(SimilarityRun, run_id, with_for_update=True)
    if run is None or run.status in (SimilarityStatus.finished, SimilarityStatus.failed):
        return None
    readable = tuple(submission_id for submission_id, _ in sources(db, latest_submission_ids(db, run.assignment)))
    db.execute(delete(SimilarityPair).where(SimilarityPair.run_id == run.id))
    run.attempt += 1
    run.status = SimilarityStatus.running
    run.submissions, run.done, run.total = len(readable), 0, steps(len(readable))
    run.started_at, run.finished_at, run.error = utcnow(), None, None
    db.flush()
    return Job(run.id, run.attempt, run.threshold, readable, _handout(run.assignment))


def _still_mine(db: Session, job: Job, **values: object) -> None:
    """Write `values` to the run if this attempt still holds it, else raise Superseded."""
    held = db.execute(
        update(SimilarityRun)
        .where(SimilarityRun.id == job.run_id, SimilarityRun.attempt == job.attempt,
               SimilarityRun.status == SimilarityStatus.running)
        .values(**values)
        .returning(SimilarityRun.id)
    ).first()
    if held is None:
        raise Superseded(f"similarity run {job.run_id}: attempt {job.attempt} was taken over")


def record(db: Session, job: Job, done: int, matches: Sequence[Match]) -> None:
    """Progress so far and the pairs found since the last record."""
    _still_mine(db, job, done=done)
    db.add_all(
        SimilarityPair(run_id=job.run_id, submission_a_id=match.key_a, submission_b_id=match.key_b,
                       score=match.score, similarity_a=match.similarity_a, similarity_b=match.similarity_b,
                       spans_a=[list(span) for span in match.spans_a], spans_b=[list(span) for span in match.spans_b])
        for match in matches
    )
    db.flush()


def finish(db: Session, job: Job) -> None:
    _still_mine(db, job, status=SimilarityStatus.finished, finished_at=utcnow())


def fail(db: Session, job: Job, reason: str) -> None:
    """The run ends failed with `reason`, unless a later attempt holds it."""
    try:
        _still_mine(db, job, status=SimilarityStatus.failed, error=reason, finished_at=utcnow())
    except Superseded:
        return
