"""A similarity run whose message was lost is not stuck forever: the reconciler sends it again
(once per reconcile_after_s while it is queued, at once when its worker stopped making progress)
and ends it failed, with a reason the instructor reads, after reconcile_sends sends that no worker
began.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import SimilarityRun
from grader.services import similarity, similarity_runs
from grader.services.broker import SIMILARITY_TASK
from grader.services.reconcile import reconcile
from harness.servers import free_port
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import Class, SentTasks, make_class, sent_as_of, taken_at, upload

TIMEOUT_S = 120
LEASE_S = 60.0  # longer than any pause of these tests: only the progress they make up goes stale
STALLED = timedelta(seconds=LEASE_S + 1)


def _sent_again(db: Session, sent_tasks: SentTasks, older_than_s: float, now: datetime | None = None) -> list[int]:
    """The runs one reconciler run (at `now`: default the clock) sends, committed as its task does
    (which sends them)."""
    sent_tasks.sent.clear()
    sent = reconcile(db, older_than_s, LEASE_S, now)
    db.commit()
    went_out = sent_tasks.ids(SIMILARITY_TASK)
    assert sent.similarity_runs == sorted(went_out)  # what it says it sent (by id) is what went out
    return went_out


def _start(db: Session, klass: Class) -> int:
    run = similarity.start_run(db, klass.instructor, klass.assignment)
    db.commit()  # sends it
    return run.id


def _ago(db: Session, run_id: int, **stamps: timedelta) -> None:
    """As if the run's stamps (sent_at, progress_at) had been written that long ago."""
    db.execute(update(SimilarityRun).where(SimilarityRun.id == run_id)
               .values({name: utcnow() - age for name, age in stamps.items()}))
    db.commit()


def _run(db: Session, run_id: int) -> SimilarityRun:
    db.rollback()  # a fresh snapshot
    return db.get_one(SimilarityRun, run_id, populate_existing=True)


def test_a_queued_run_whose_message_was_lost_is_sent_again_once_per_reconcile_after_s(
    quiet_db: Session, sent_tasks: SentTasks
) -> None:
    """It used to stay queued forever: only start_run's commit ever sent it."""
    db = quiet_db
    klass = make_class(db)
    run_id = _start(db, klass)
    assert sent_tasks.ids(SIMILARITY_TASK) == [run_id]  # sent once, and lost: nothing reads the sent tasks
    after = timedelta(seconds=get_settings().reconcile_after_s)

    assert run_id not in _sent_again(db, sent_tasks, after.total_seconds())  # just sent
    _ago(db, run_id, sent_at=after + timedelta(seconds=1))
    assert run_id in _sent_again(db, sent_tasks, after.total_seconds())
    assert run_id not in _sent_again(db, sent_tasks, after.total_seconds())  # stamped: not on the next tick
    _ago(db, run_id, sent_at=after + timedelta(seconds=1))
    assert run_id in _sent_again(db, sent_tasks, after.total_seconds())
    assert (_run(db, run_id).status, _run(db, run_id).sends) == ("queued", 2)

    job = similarity_runs.begin(db, run_id)  # a worker takes it at last
    db.commit()
    assert job is not None and _run(db, run_id).sends == 0  # a begun run counts its sends anew
    similarity_runs.finish(db, job)
    db.commit()


def test_a_running_run_is_sent_again_only_once_its_progress_stopped_for_the_lease(
    quiet_db: Session, sent_tasks: SentTasks
) -> None:
    db = quiet_db
    klass = make_class(db, students=2)
    for student in klass.students:
        upload(db, student, klass.assignment)
    run_id = _start(db, klass)
    first = similarity_runs.begin(db, run_id)
    db.commit()
    assert first is not None

    _ago(db, run_id, progress_at=STALLED, sent_at=STALLED)  # long into a run...
    similarity_runs.record(db, first, 1, [])  # ...that is making progress
    db.commit()
    assert run_id not in _sent_again(db, sent_tasks, 0)
    _ago(db, run_id, progress_at=STALLED)  # its worker stopped
    assert run_id in _sent_again(db, sent_tasks, 0)
    assert run_id not in _sent_again(db, sent_tasks, get_settings().reconcile_after_s)  # once, not every tick
    with pytest.raises(similarity_runs.Superseded):  # the stalled attempt is given up at once
        similarity_runs.record(db, first, 2, [])
    db.rollback()

    second = similarity_runs.begin(db, run_id)  # the message sent again, delivered
    db.commit()
    assert second is not None and second.attempt == first.attempt + 1
    state = similarity.run_progress(db, klass.instructor, run_id)
    assert (state["status"], state["done"]) == ("running", 0)  # started over
    with pytest.raises(similarity_runs.Superseded):
        similarity_runs.record(db, first, 3, [])
    db.rollback()
    similarity_runs.fail(db, first, "the first attempt's failure")  # refused quietly
    similarity_runs.record(db, second, 3, [])
    similarity_runs.finish(db, second)
    db.commit()
    state = similarity.run_progress(db, klass.instructor, run_id)
    assert (state["status"], state["done"], state["error"]) == ("finished", 3, None)

    _ago(db, run_id, progress_at=STALLED, sent_at=STALLED)
    assert run_id not in _sent_again(db, sent_tasks, 0)  # a finished run is never sent


def test_a_run_no_worker_begins_ends_failed_after_a_bounded_number_of_sends(
    quiet_db: Session, sent_tasks: SentTasks
) -> None:
    """Sends count since a worker last began it, as a submission's count since its last claim."""
    db = quiet_db
    klass = make_class(db)
    run_id = _start(db, klass)

    assert run_id in _sent_again(db, sent_tasks, 0)  # sent again once...
    assert similarity_runs.begin(db, run_id) is not None  # ...begun...
    db.commit()
    _ago(db, run_id, progress_at=STALLED)  # ...and its worker died
    assert run_id in _sent_again(db, sent_tasks, 0)  # given up, and sent at once
    assert (_run(db, run_id).status, _run(db, run_id).sends) == ("queued", 0)

    sends = get_settings().reconcile_sends
    for _ in range(sends):
        assert run_id in _sent_again(db, sent_tasks, 0)
    assert run_id not in _sent_again(db, sent_tasks, 0)
    state = similarity.run_progress(db, klass.instructor, run_id)
    assert state["status"] == "failed" and state["finished_at"] is not None
    error = state["error"] or ""
    assert "no worker took it" in error and "'cpu' queue" in error and f"{sends} times" in error
    assert error.endswith("ask the service's operator to check that the workers run, then start a new run.")

    _ago(db, run_id, progress_at=STALLED, sent_at=STALLED)
    assert run_id not in _sent_again(db, sent_tasks, 0)  # and it stays failed
    assert similarity_runs.begin(db, run_id) is None  # a message still on its way does nothing


def test_a_run_waiting_its_turn_behind_grading_is_neither_sent_again_nor_failed(
    quiet_db: Session, sent_tasks: SentTasks
) -> None:
    """The run shares the cpu queue with grading: while workers take the submissions sent before it,
    it waits its turn; once they take work sent after it, its message is gone and it is sent again;
    once the queue stops, its sends count. The test plays its hours on a clock of its own."""
    db = quiet_db
    klass = make_class(db, students=2)
    start = utcnow() + timedelta(hours=1)
    ahead = [upload(db, klass.students[1], klass.assignment).id for _ in range(3)]
    sent_as_of(db, ahead, start)
    run_id = _start(db, klass)
    db.execute(update(SimilarityRun).where(SimilarityRun.id == run_id).values(sent_at=start + timedelta(seconds=1)))
    db.commit()  # sent a second after them

    clock = start
    for submission_id in ahead:
        clock += timedelta(minutes=1)
        taken_at(db, submission_id, "cpu", clock)
        assert run_id not in _sent_again(db, sent_tasks, 0, clock)
    assert (_run(db, run_id).status, _run(db, run_id).sends) == ("queued", 0)

    later = upload(db, klass.students[1], klass.assignment).id
    clock += timedelta(minutes=10)  # surely sent after it
    sent_as_of(db, [later], clock - timedelta(seconds=30))
    taken_at(db, later, "cpu", clock)
    assert run_id in _sent_again(db, sent_tasks, 0, clock)
    assert (_run(db, run_id).status, _run(db, run_id).sends) == ("queued", 1)

    for _ in range(get_settings().reconcile_sends - 1):
        clock += timedelta(hours=1)
        assert run_id in _sent_again(db, sent_tasks, 0, clock)
    assert run_id not in _sent_again(db, sent_tasks, 0, clock + timedelta(hours=1))
    assert _run(db, run_id).status == "failed"


def test_a_run_started_while_the_broker_was_down_is_finished_once_sent_again(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess,
    use_stack: Callable[[Stack], None],
) -> None:
    """The real broker, the session's worker: the send that failed at the start is only logged."""
    db = postgres_db
    use_stack(postgres_stack.with_broker(f"redis://127.0.0.1:{free_port()}/0", postgres_stack.broker_key_prefix))
    klass = make_class(db, students=2)
    for student in klass.students:
        upload(db, student, klass.assignment)  # their grading is lost too: only the run is sent below
    run_id = _start(db, klass)
    assert _run(db, run_id).status == "queued"

    use_stack(postgres_stack)  # the broker is back, without the run's message
    # Older than anything another test left stuck, so that only this run goes to the shared worker.
    long_ago = timedelta(days=1)
    _ago(db, run_id, sent_at=long_ago + timedelta(minutes=1))
    reconcile(db, long_ago.total_seconds(), long_ago.total_seconds())
    db.commit()  # sends it
    assert _run(db, run_id).sends == 1

    def finished() -> bool:
        state = similarity.run_progress(db, klass.instructor, _run(db, run_id).id)
        assert state["status"] != "failed", state["error"]
        return state["status"] == "finished"

    wait_until(finished, TIMEOUT_S, f"similarity run {run_id} to finish", interval=0.2)
    state = similarity.run_progress(db, klass.instructor, run_id)
    assert (state["submissions"], state["pairs"]) == (2, 1)  # the two equal uploads
