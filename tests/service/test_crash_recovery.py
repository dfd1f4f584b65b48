"""No submission is lost: not to a worker killed mid-grade, nor to a broker that forgets its queue.

Each test sends to queues of its own (a fresh key prefix, or a private redis-server), so only the
workers it starts can take its messages.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from grader.db.models import RunStatus, Submission
from grader.db.session import engine_for, session_scope, upgrade_schema
from tests.fixtures.services import RedisServer, Stack, WorkerProcess, key_prefix, wait_until
from tests.service.helpers import make_class, reconciled, runs_of, sleeping_submission, upload, wait_finished

TIMEOUT_S = 90
SLEEP_S = 4


def _wait_running(db: Session, submission_id: int) -> None:
    def running() -> bool:
        db.rollback()
        return db.get_one(Submission, submission_id, populate_existing=True).status == "running"

    wait_until(running, TIMEOUT_S, f"submission {submission_id} to be picked up")


def _assert_graded_once_after_a_lost_attempt(db: Session, submission_id: int) -> None:
    assert wait_finished(db, [submission_id], TIMEOUT_S) == {submission_id: "graded"}
    runs = runs_of(db, submission_id)
    assert [run.status for run in runs] == [RunStatus.lost, RunStatus.completed]
    assert runs[-1].score == runs[-1].max_score
    assert db.get_one(Submission, submission_id, populate_existing=True).attempts == 2


def _grading_a_sleeper(
    db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess],
) -> tuple[Stack, WorkerProcess, Submission]:
    """A worker on private queues, mid-way through grading a submission that sleeps."""
    stack = postgres_stack.with_broker(postgres_stack.broker_url, key_prefix())
    use_stack(stack)
    worker = start_worker(stack)
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment, sleeping_submission(SLEEP_S))
    _wait_running(db, submission.id)
    return stack, worker, submission


def test_a_pool_process_killed_mid_grade_is_redelivered_and_graded_once(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """acks_late + reject_on_worker_lost: the message comes back when the grading process dies."""
    db = postgres_db
    _, worker, submission = _grading_a_sleeper(db, postgres_stack, use_stack, start_worker)

    [pool_process] = worker.pool_pids()
    os.kill(pool_process, signal.SIGKILL)

    _assert_graded_once_after_a_lost_attempt(db, submission.id)


def test_a_worker_killed_outright_is_recovered_by_the_reconciler(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """Main process and pool gone at once: no one requeues the message, the reconciler does."""
    db = postgres_db
    stack, first, submission = _grading_a_sleeper(db, postgres_stack, use_stack, start_worker)
    first.kill()
    start_worker(stack)

    lease_s = float(stack.env["GRADER_RUN_LEASE_S"])
    wait_until(lambda: submission.id in reconciled(db, older_than_s=lease_s), TIMEOUT_S,
               "the reconciler to find the stuck submission", interval=0.5)

    _assert_graded_once_after_a_lost_attempt(db, submission.id)


def test_queued_submissions_survive_a_redis_restart(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess], private_redis: RedisServer,
) -> None:
    db = postgres_db
    stack = postgres_stack.with_broker(private_redis.url)
    use_stack(stack)
    klass = make_class(db, students=3)
    ids = [upload(db, s, klass.assignment).id for s in klass.students]
    broker = redis.Redis.from_url(private_redis.url)
    assert broker.llen("cpu") == len(ids)

    private_redis.stop()
    late = upload(db, klass.students[0], klass.assignment)
    ids.append(late.id)  # stored while the broker is down: the upload still succeeds
    private_redis.start()  # no persistence: the messages are gone
    assert broker.llen("cpu") == 0
    start_worker(stack)

    assert set(ids) <= set(reconciled(db, older_than_s=0))  # with what other tests left stuck
    assert set(wait_finished(db, ids, TIMEOUT_S).values()) == {"graded"}
    for submission_id in ids:
        assert [run.status for run in runs_of(db, submission_id)] == [RunStatus.completed]
    broker.close()


def test_a_database_outage_is_retried_with_backoff(
    postgres_server: str, empty_postgres_database: str, redis_server: str, postgres_stack: Stack,
    use_stack: Callable[[Stack], None], start_worker: Callable[..., WorkerProcess],
) -> None:
    """The worker finds the database gone (OperationalError): it retries until it is back."""
    url = empty_postgres_database
    upgrade_schema(url)
    stack = Stack(url, redis_server, postgres_stack.rubrics_dir, key_prefix(), postgres_stack.extra)
    use_stack(stack)
    with session_scope() as db:
        klass = make_class(db)
        submission_id = upload(db, klass.students[0], klass.assignment).id
    engine_for(url).dispose()

    name = make_url(url).database
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"'))
        worker = start_worker(stack)
        wait_until(lambda: "Retry in" in worker.log(), TIMEOUT_S, "the task to be retried")
        connection.execute(text(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"'))
    admin.dispose()

    with session_scope() as db:
        assert wait_finished(db, [submission_id], TIMEOUT_S) == {submission_id: "graded"}
        assert [run.status for run in runs_of(db, submission_id)] == [RunStatus.completed]
