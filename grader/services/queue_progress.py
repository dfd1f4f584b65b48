"""Whether queued work waits its turn behind a busy queue, or no worker will take it as it stands.

The reconciler sends queued work again when it has waited `reconcile_after_s`, in case its message
was lost. At a deadline the queue can hold hours of work: sending what waits there again only adds
a duplicate behind it (each costs a worker a sandbox start), and counting those sends failed it
as if no worker took the queue. What workers did on the queue tells the two apart:

- they are taking its work (a claim or the end of an attempt in the last window, or an attempt
  running now), and none they took was sent after this one: it waits its turn, and is left alone;
- they took work sent after it: a queue is first in, first out, so they went past it and its
  message is gone (or it fails before its claim): it is sent again, and the send counts;
- they took nothing: no worker takes the queue: it is sent again, and the send counts.

A worker takes a submission by claiming it: its grading run names the queue that delivered the
message (broker.queue_key) and when that message was sent (each grading message says so in a
header: a submission sent twice has two). A similarity run keeps the cpu queue busy while it runs.
Sends close together can reach the queue in either order (a large regrade publishes for a minute
after it stamps its rows), so only work sent ORDER_SLACK after this one shows it was passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from grader.db.models import GradingRun, RunStatus, SimilarityRun, SimilarityStatus, Submission, SubmissionStatus
from grader.services.broker import CPU_QUEUE, DEVICE_OF_QUEUE, queue_key

ORDER_SLACK = timedelta(minutes=5)
# Runs that started this long before the oldest waiting send are not looked at: their ends count
# as the queue being taken, and no grading or comparison runs longer.
LONGEST_RUN = timedelta(days=1)


@dataclass(frozen=True)
class Activity:
    """What workers did on one queue lately."""

    last_taken: datetime | None = None  # the latest claim of work from it, or end of an attempt at it
    last_claimed_send: datetime | None = None  # the latest send among the messages taken
    running: bool = False  # an attempt taken from it runs now (its heartbeat is fresh)

    def waits_its_turn(self, last_send: datetime, window_start: datetime) -> bool:
        """Whether work last sent at `last_send` still waits behind others here (see the module)."""
        taking = self.running or (self.last_taken is not None and self.last_taken >= window_start)
        went_past = self.last_claimed_send is not None and self.last_claimed_send > last_send + ORDER_SLACK
        return taking and not went_past


def activity(db: Session, since: datetime, stale_before: datetime) -> dict[str, Activity]:
    """Queue name -> what workers did on it since `since`; an attempt whose heartbeat (a similarity
    run: progress) is older than `stale_before` does not run any more. An attempt's end counts as
    its queue being taken (with long jobs on one slot, a tick can come between one's end and the
    next claim), unless the reconciler ended it as lost."""
    found: dict[str, Activity] = {}
    for queue_name in DEVICE_OF_QUEUE:
        key = queue_key(queue_name)
        # A run's end (unless a loss), else its claim: the later of the two, as an end follows its claim.
        ended = case((GradingRun.status != RunStatus.lost, GradingRun.finished_at))
        taken = func.coalesce(ended, GradingRun.started_at)
        last_taken, last_send = db.execute(
            select(func.max(taken), func.max(GradingRun.sent_at))
            .where(GradingRun.queue == key, GradingRun.started_at >= since - LONGEST_RUN)
        ).one()
        running = db.scalar(
            select(GradingRun.id).join(Submission, Submission.id == GradingRun.submission_id)
            .where(Submission.status == SubmissionStatus.running, Submission.heartbeat_at >= stale_before,
                   GradingRun.status == RunStatus.running, GradingRun.queue == key)
            .limit(1)
        ) is not None
        if queue_name == CPU_QUEUE:
            compared, comparing = db.execute(
                select(func.max(func.coalesce(SimilarityRun.finished_at, SimilarityRun.started_at)),
                       func.max(case((SimilarityRun.status == SimilarityStatus.running, SimilarityRun.progress_at))))
                .where(SimilarityRun.queue == key, SimilarityRun.started_at >= since - LONGEST_RUN)
            ).one()
            last_taken = max((t for t in (last_taken, compared) if t is not None), default=None)
            running = running or (comparing is not None and comparing >= stale_before)
        found[queue_name] = Activity(last_taken, last_send, running)
    return found
