"""Whether queued work waits its turn behind a busy queue, or no worker will take it as it stands.

The reconciler sends queued work again when it has waited `reconcile_after_s`, in case its message
was lost. At a deadline the queue can hold hours of work: sending what waits there again only adds
a duplicate behind it (each costs a worker a sandbox start), and counting those sends failed it
as if no worker took the queue. What workers did on the queue tells the two apart:

- they are taking its work (a claim in the last window, or an attempt running now), and none they
  took was sent after this one: it waits its turn, and is left alone;
- they took work sent after it: a queue is first in, first out, so they went past it and its
  message is gone (or it fails before its claim): it is sent again, and the send counts;
- they took nothing: no worker takes the queue: it is sent again, and the send counts.

A worker takes a submission by claiming it (a grading run names the queue that delivered it and
when its request was last sent) and a similarity run by beginning it (the cpu queue). A queue is
its name after the broker's key prefix (`queue_key`): deployments, or tests, that share a database
but not a broker prefix keep their queues apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import GradingRun, RunStatus, SimilarityRun, SimilarityStatus, Submission, SubmissionStatus
from grader.services.broker import CPU_QUEUE, DEVICE_OF_QUEUE

_QUEUE_OF_DEVICE = {device: name for name, device in DEVICE_OF_QUEUE.items()}


def queue_key(queue_name: str) -> str:
    """The queue `queue_name` of this deployment's broker, as grading runs name it."""
    return get_settings().broker_key_prefix + queue_name


def queue_of_run(device: str) -> str | None:
    """The queue (`queue_key`) a run on `device` was taken from: the queue picks the device."""
    name = _QUEUE_OF_DEVICE.get(device)
    return None if name is None else queue_key(name)


@dataclass(frozen=True)
class Activity:
    """What workers did on one queue lately."""

    last_claim: datetime | None = None  # the latest start of work taken from it
    last_claimed_send: datetime | None = None  # the latest send among the work taken
    running: bool = False  # an attempt taken from it runs now (its heartbeat is fresh)

    def merged(self, other: Activity) -> Activity:
        return Activity(_latest(self.last_claim, other.last_claim),
                        _latest(self.last_claimed_send, other.last_claimed_send), self.running or other.running)

    def waits_its_turn(self, last_send: datetime, window_start: datetime) -> bool:
        """Whether work last sent at `last_send` still waits behind others here (see the module)."""
        taking = self.running or (self.last_claim is not None and self.last_claim >= window_start)
        went_past = self.last_claimed_send is not None and self.last_claimed_send > last_send
        return taking and not went_past


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def activity(db: Session, since: datetime, stale_before: datetime) -> dict[str, Activity]:
    """Queue name -> what workers did on it since `since`; an attempt whose heartbeat (a similarity
    run: progress) is older than `stale_before` does not run any more."""
    found: dict[str, Activity] = {}
    for queue_name in DEVICE_OF_QUEUE:
        key = queue_key(queue_name)
        last_claim, last_send = db.execute(
            select(func.max(GradingRun.started_at), func.max(GradingRun.sent_at))
            .where(GradingRun.queue == key, GradingRun.started_at >= since)
        ).one()
        running = db.scalar(
            select(GradingRun.id).join(Submission, Submission.id == GradingRun.submission_id)
            .where(Submission.status == SubmissionStatus.running, Submission.heartbeat_at >= stale_before,
                   GradingRun.status == RunStatus.running, GradingRun.queue == key)
            .limit(1)
        ) is not None
        found[queue_name] = Activity(last_claim, last_send, running)
    began, began_send = db.execute(
        select(func.max(SimilarityRun.started_at), func.max(SimilarityRun.sent_at))
        .where(SimilarityRun.started_at >= since)
    ).one()
    comparing = db.scalar(
        select(SimilarityRun.id)
        .where(SimilarityRun.status == SimilarityStatus.running, SimilarityRun.progress_at >= stale_before)
        .limit(1)
    ) is not None
    found[CPU_QUEUE] = found[CPU_QUEUE].merged(Activity(began, began_send, comparing))
    return found
