"""A worker whose main process is SIGKILLed: its submission is recovered within about two leases,
not after reconcile_after_s, and its embedded beat dies with it instead of scheduling on.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from grader.config import Settings
from grader.db.models import RunStatus, Submission
from tests.fixtures.services import Stack, WorkerProcess, key_prefix, wait_until
from tests.service.helpers import make_class, runs_of, sleeping_submission, upload, wait_finished
from workers.app import create_celery

# Far below reconcile_after_s (600 s): only a recovery by the lease (2 s here) is in time.
RECOVERY_TIMEOUT_S = 120
SLEEP_S = 4


def _with_beat(tmp_path: Path) -> list[str]:
    return ["--beat", "--schedule", str(tmp_path / "celerybeat-schedule")]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _kill_main_process(worker: WorkerProcess) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()


def test_a_submission_whose_worker_main_process_was_killed_is_recovered_within_leases(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess], tmp_path: Path,
) -> None:
    db = postgres_db
    stack = postgres_stack.with_broker(postgres_stack.broker_url, key_prefix())
    assert stack.env["GRADER_RUN_LEASE_S"] == "2" and "GRADER_RECONCILE_AFTER_S" not in stack.env  # 600 s
    use_stack(stack)
    first = start_worker(stack)
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment, sleeping_submission(SLEEP_S))

    def running() -> bool:
        db.rollback()
        return db.get_one(Submission, submission.id, populate_existing=True).status == "running"

    wait_until(running, RECOVERY_TIMEOUT_S, f"submission {submission.id} to be picked up")
    _kill_main_process(first)  # its pool process dies with it; the message stays unacknowledged
    start_worker(stack, args=_with_beat(tmp_path))  # the beat runs the reconciler

    assert wait_finished(db, [submission.id], RECOVERY_TIMEOUT_S) == {submission.id: "graded"}
    runs = runs_of(db, submission.id)
    assert [run.status for run in runs] == [RunStatus.lost, RunStatus.completed]
    assert runs[-1].score == runs[-1].max_score


def test_the_embedded_beat_dies_with_its_worker(
    postgres_stack: Stack, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    """It used to live on, orphaned, and keep sending the reconciler: a second beat after a restart."""
    stack = postgres_stack.with_broker(postgres_stack.broker_url, key_prefix())
    worker = start_worker(stack, args=_with_beat(tmp_path))
    children = worker.pool_pids()
    assert len(children) == 2  # its pool process and its beat

    _kill_main_process(worker)

    wait_until(lambda: not any(_alive(pid) for pid in children), 15, "the pool process and the beat to exit")


def test_the_beat_runs_the_reconciler_at_least_twice_a_lease() -> None:
    app = create_celery(Settings(run_lease_s=30, reconcile_interval_s=60))
    [entry] = app.conf.beat_schedule.values()
    assert entry["schedule"] == 15
