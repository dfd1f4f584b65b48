"""Whether queued work waits its turn on a queue, from what workers did on it lately."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import GradingRun, RunStatus, SimilarityRun
from grader.services import queue_progress, similarity, similarity_runs
from grader.services.broker import CPU_QUEUE
from grader.services.queue_progress import ORDER_SLACK, Activity
from tests.service.helpers import make_class, taken_at, upload

SENT = utcnow()  # when the queued work was last sent
WINDOW = SENT + timedelta(minutes=10)  # the reconciler's window starts then (it waited that long)
LATER = SENT + ORDER_SLACK + timedelta(seconds=1)  # surely sent after it


@pytest.mark.parametrize("lately, waits", [
    (Activity(running=True), True),  # a worker grades the queue's work now
    (Activity(last_taken=WINDOW, last_claimed_send=SENT - timedelta(seconds=1)), True),  # it took earlier work
    (Activity(last_taken=WINDOW - timedelta(seconds=1)), False),  # nothing taken in the window: nobody takes it
    (Activity(last_taken=WINDOW, last_claimed_send=LATER, running=True), False),  # went past it
    (Activity(last_taken=WINDOW, last_claimed_send=LATER - timedelta(seconds=2)), True),  # maybe published first
    (Activity(), False),
], ids=["running", "claimed-in-window", "quiet-window", "went-past", "sent-close-together", "nothing"])
def test_work_waits_its_turn_only_while_workers_take_earlier_work(lately: Activity, waits: bool) -> None:
    assert lately.waits_its_turn(SENT, WINDOW) is waits


def test_what_workers_did_on_a_queue_is_read_from_its_own_runs(quiet_db: Session) -> None:
    """A long run that ended in the window counts (one slot, long jobs: a tick between two), a run
    the reconciler ended as lost does not, and a similarity run keeps the cpu queue busy, on this
    deployment's queue only. The test's clock runs an hour ahead of the real one."""
    db = quiet_db
    klass = make_class(db, students=2)
    now = utcnow() + timedelta(hours=1)
    since, stale_before = now - timedelta(minutes=10), now - timedelta(seconds=30)
    long_job, lost = (upload(db, student, klass.assignment).id for student in klass.students)
    for submission_id, status, ended in ((long_job, RunStatus.completed, now - timedelta(minutes=1)),
                                         (lost, RunStatus.lost, now)):
        taken_at(db, submission_id, "cpu", now - timedelta(hours=3))
        db.execute(update(GradingRun).where(GradingRun.submission_id == submission_id)
                   .values(status=status, finished_at=ended))
    db.commit()
    cpu = queue_progress.activity(db, since, stale_before)[CPU_QUEUE]
    assert (cpu.last_taken, cpu.running) == (now - timedelta(minutes=1), False)

    run = similarity.start_run(db, klass.instructor, klass.assignment)
    assert similarity_runs.begin(db, run.id) is not None
    db.execute(update(SimilarityRun).where(SimilarityRun.id == run.id).values(progress_at=now))
    db.commit()
    assert queue_progress.activity(db, since, stale_before)[CPU_QUEUE].running
    db.execute(update(SimilarityRun).where(SimilarityRun.id == run.id).values(queue="another-deployment:cpu"))
    db.commit()
    assert not queue_progress.activity(db, since, stale_before)[CPU_QUEUE].running
