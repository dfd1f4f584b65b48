"""A similarity run as a worker does it: claim it, read the sources, record progress and pairs, end it.

The comparison itself (grader.copy_detection, which loads numpy) stays in the worker, which hands
its matches in. Nothing here commits: the task commits after each step, so progress and pairs show
while it runs. A task delivered again (its worker died, or a duplicate) starts the run over under
a new attempt number, and the older attempt's writes are refused with Superseded.

A run whose message was lost is sent again by the reconciler (grader.services.reconcile), as a
submission is: a queued run once per `reconcile_after_s`, a running one at once when its worker
wrote no progress for the run lease (that attempt is given up), and a run sent `reconcile_sends`
times without a worker beginning it ends failed, with a reason its instructor reads (one waiting
its turn behind a busy queue is left alone meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.batches import batches
from grader.db.models import (
    Assignment,
    SimilarityPair,
    SimilarityRun,
    SimilarityStatus,
    Submission,
)
from grader.services import queue, queue_progress
from grader.services.broker import CPU_QUEUE, SIMILARITY_TASK, queue_key
from grader.services.latest import latest_submission_ids
from grader.submission import SUPPORTED_SUFFIXES, SubmissionError, prepare_source

if TYPE_CHECKING:  # the worker hands its matches in; the services never import copydetect
    from grader.copy_detection import Match

log = logging.getLogger(__name__)

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
    for chunk in batches(submission_ids, CHUNK):
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
    """Start (or start over) the run. None when there is nothing to start: the run is over or gone
    (a message delivered late), its attempt is alive (a duplicate message: progress within the run
    lease; once it stops, the reconciler sends the run again), or it has had its attempts (it
    ends failed, with the reason)."""
    run = db.get(SimilarityRun, run_id, with_for_update=True)
    if run is None or run.status in (SimilarityStatus.finished, SimilarityStatus.failed):
        return None
    settings, now = get_settings(), utcnow()
    if (run.status == SimilarityStatus.running and run.progress_at is not None
            and run.progress_at > now - timedelta(seconds=settings.run_lease_s)):
        return None
    if run.attempt >= settings.grading_attempts:
        run.status, run.finished_at = SimilarityStatus.failed, now
        run.error = (f"Not compared: it was started {run.attempt} times and its worker stopped each time before it "
                     "finished (killed, or out of memory); ask the service's operator to check the workers, then "
                     "start a new run.")
        db.flush()
        log.warning("similarity run %s failed: its worker stopped in each of %d attempts", run.id, run.attempt)
        return None
    readable = tuple(submission_id for submission_id, _ in sources(db, latest_submission_ids(db, run.assignment)))
    db.execute(delete(SimilarityPair).where(SimilarityPair.run_id == run.id))
    run.attempt += 1
    run.status = SimilarityStatus.running
    run.submissions, run.done, run.total = len(readable), 0, steps(len(readable))
    run.started_at = run.progress_at = now
    run.finished_at, run.error, run.sends = None, None, 0
    run.queue = queue_key(CPU_QUEUE)  # the queue it keeps busy meanwhile (grader.services.queue_progress)
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
    _still_mine(db, job, done=done, progress_at=utcnow())
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


def resend_stuck_runs(db: Session, now: datetime, queued_before: datetime, stale_before: datetime) -> list[int]:
    """Send again the runs queued with no send since `queued_before`, and those running with no
    progress since `stale_before`; the ids sent, once `db` commits (not committed here).

    A stalled attempt is given up (the run queued again, so its writes are refused) and sent at
    once. Each queued run sent is stamped and counted, so it is sent again at most once until
    `queued_before` passes its stamp, and once it has been sent `reconcile_sends` times since a
    worker last began it, it is failed instead. A run that waits its turn behind a busy cpu queue
    (grader.services.queue_progress) is neither sent nor counted.
    """
    stuck = db.execute(
        select(SimilarityRun.id, SimilarityRun.status, SimilarityRun.sends, SimilarityRun.sent_at)
        .where(or_(
            and_(SimilarityRun.status == SimilarityStatus.queued, SimilarityRun.sent_at <= queued_before),
            and_(SimilarityRun.status == SimilarityStatus.running, SimilarityRun.progress_at < stale_before),
        ))
        .order_by(SimilarityRun.id)
    ).all()
    limit = get_settings().reconcile_sends
    queued = [row for row in stuck if row.status == SimilarityStatus.queued]
    if queued:
        lately = queue_progress.activity(db, min(row.sent_at for row in queued), stale_before)[CPU_QUEUE]
        queued = [row for row in queued if not lately.waits_its_turn(row.sent_at, queued_before)]
    for row in queued:
        if row.sends >= limit:
            _fail_unbegun(db, row.id, row.sends, now)
    sent = _stamp_sent(db, [row.id for row in queued if row.sends < limit], queued_before, now)
    sent += _give_up_stalled(db, [row.id for row in stuck if row.status == SimilarityStatus.running],
                             stale_before, now)
    for run_id in sent:
        queue.send_after_commit(db, SIMILARITY_TASK, [run_id], CPU_QUEUE)
    return sorted(sent)


def _stamp_sent(db: Session, run_ids: Sequence[int], queued_before: datetime, now: datetime) -> list[int]:
    """Those of the runs still queued and not sent since `queued_before` (another reconciler may
    have sent them meanwhile), stamped as sent now and counted; their ids."""
    if not run_ids:
        return []
    return list(db.scalars(
        update(SimilarityRun)
        .where(SimilarityRun.id.in_(run_ids), SimilarityRun.status == SimilarityStatus.queued,
               SimilarityRun.sent_at <= queued_before)
        .values(sent_at=now, sends=SimilarityRun.sends + 1)
        .returning(SimilarityRun.id)
    ))


def _give_up_stalled(db: Session, run_ids: Sequence[int], stale_before: datetime, now: datetime) -> list[int]:
    """Those of the runs whose attempt still wrote no progress since `stale_before` are queued
    again, as sent now but not counted (as a submission whose worker died); their ids."""
    if not run_ids:
        return []
    return list(db.scalars(
        update(SimilarityRun)
        .where(SimilarityRun.id.in_(run_ids), SimilarityRun.status == SimilarityStatus.running,
               SimilarityRun.progress_at < stale_before)
        .values(status=SimilarityStatus.queued, sent_at=now)
        .returning(SimilarityRun.id)
    ))


def _fail_unbegun(db: Session, run_id: int, sends: int, now: datetime) -> None:
    """Fail a run no worker began in `sends` sends, unless one began it meanwhile."""
    message = (f"Not compared: no worker took it from the {CPU_QUEUE!r} queue, though it was sent again "
               f"{sends} times; ask the service's operator to check that the workers run, then start a new run.")
    failed = db.scalars(
        update(SimilarityRun)
        .where(SimilarityRun.id == run_id, SimilarityRun.status == SimilarityStatus.queued,
               SimilarityRun.sends == sends)
        .values(status=SimilarityStatus.failed, error=message, finished_at=now)
        .returning(SimilarityRun.id)
    ).first()
    if failed is not None:
        log.warning("similarity run %s failed: no worker took it from the %r queue in %d sends",
                    run_id, CPU_QUEUE, sends)
