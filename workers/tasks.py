"""Thin tasks: an id in, the services do the work. One grading Engine per worker process.

The queue that delivered a task picks the device: `gpu` grades on CUDA, `cpu` on the CPU.
Infrastructure errors (database or broker down) are retried with backoff; a claim held by
another live attempt (Busy) is retried when its lease would run out; student errors are scores.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from datetime import datetime
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task, platforms
from celery.exceptions import TimeLimitExceeded
from celery.signals import (
    beat_embedded_init,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from grader.config import get_settings
from grader.db.session import become_grading_worker, session_scope
from grader.engine import Engine
from grader.services import claims, faults, grading, results, similarity_runs
from grader.services.broker import (
    CPU_QUEUE,
    DEVICE_OF_QUEUE,
    GPU_QUEUE,
    GRADE_TASK,
    RECONCILE_TASK,
    SENT_AT_HEADER,
    SIMILARITY_TASK,
)
from grader.services.presence import GpuWorkerAnnouncement
from grader.services.reconcile import reconcile
from workers.app import celery_app

log = logging.getLogger(__name__)

# With backoff capped at 5 minutes this rides out about an hour of outage; the reconciler covers longer.
MAX_RETRIES = 15
# A database or broker that is down is waited for, with backoff; anything else is the task's own result.
RETRY_INFRASTRUCTURE_FAULTS: dict[str, Any] = {
    "autoretry_for": faults.INFRASTRUCTURE_ERRORS, "retry_backoff": True, "retry_backoff_max": 300,
    "retry_jitter": True, "max_retries": MAX_RETRIES,
}
# The worker's main process: it imports this module before it forks the embedded beat (`--beat`).
MAIN_PROCESS_PID = os.getpid()
# This worker's announcement that it takes the gpu queue, while it runs.
_gpu_announcements: list[GpuWorkerAnnouncement] = []


class _ProcessEngine:
    """The Engine of this process, made once (pool processes make it when they start)."""

    engine: Engine | None = None

    @classmethod
    def get(cls) -> Engine:
        if cls.engine is None:
            cls.engine = Engine()
        return cls.engine

    @classmethod
    def close(cls) -> None:
        if cls.engine is not None:
            cls.engine.close()
            cls.engine = None


@worker_process_init.connect
def _start_pool_process(**_: Any) -> None:
    become_grading_worker(get_settings().resolved_database_url)
    _ProcessEngine.get()


@task_prerun.connect
def _die_at_once_on_sigterm(**_: Any) -> None:
    """SIGTERM ends a pool process at once, without unwinding the task.

    billiard's own handler (installed after worker_process_init, hence here) unwinds the task and
    then writes to the pool's shared result queue, while the hard time limit sends SIGKILL 0.1 s
    after SIGTERM: landing in that write, it left the queue's lock taken and every later pool
    process hung (seen here in 1 of 6 hard-limit runs). The fork server sees its pool process go
    and kills the sandboxes itself.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@worker_process_shutdown.connect
def _stop_pool_process(**_: Any) -> None:
    _ProcessEngine.close()


@beat_embedded_init.connect
def _die_with_the_worker(**_: Any) -> None:
    """The embedded beat ends when its worker's main process does, SIGKILLed or not.

    Left alone it lived on, orphaned, and kept sending the reconciler; a restarted worker added a
    second beat. The kernel kills it when its parent dies (as Celery has it for pool processes);
    a parent that died before that was asked for shows as another parent pid.
    """
    platforms.set_pdeathsig("SIGKILL")  # type: ignore[attr-defined]  # celery.platforms has it; celery-types lacks it
    if os.getppid() != MAIN_PROCESS_PID:
        os._exit(1)


@worker_ready.connect
def _announce_a_gpu_worker(sender: Any, **_: Any) -> None:
    """Routing reads this (grader.services.presence); sent before the worker reports ready."""
    if GPU_QUEUE in sender.app.amqp.queues.consume_from:
        announcement = GpuWorkerAnnouncement(sender.hostname, get_settings().run_lease_s)
        announcement.start()
        _gpu_announcements.append(announcement)


@worker_shutdown.connect
def _withdraw_the_announcement(**_: Any) -> None:
    while _gpu_announcements:
        _gpu_announcements.pop().stop()


class GradingTask(Task[[int], str | None]):
    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        """At the hard time limit the pool kills the process; this runs in the worker's main process."""
        if isinstance(exc, TimeLimitExceeded):
            with session_scope() as db:
                results.handle_timeout(db, int(args[0]), task_id, float(exc.args[0]))
                db.commit()


@celery_app.task(bind=True, base=GradingTask, name=GRADE_TASK, **RETRY_INFRASTRUCTURE_FAULTS)
def grade_submission(self: GradingTask, submission_id: int) -> str | None:
    queue = (self.request.delivery_info or {}).get("routing_key") or CPU_QUEUE
    host = self.request.hostname or socket.gethostname()
    sent_at = (self.request.headers or {}).get(SENT_AT_HEADER)  # absent from older versions' messages
    try:
        status = grading.grade_submission(_ProcessEngine.get(), submission_id, DEVICE_OF_QUEUE.get(queue, "cpu"), host,
                                          self.request.id, datetime.fromisoformat(sent_at) if sent_at else None)
    except claims.Busy as busy:
        raise self.retry(countdown=busy.retry_in) from busy
    return status


@celery_app.task(name=RECONCILE_TASK)
def reconcile_stuck() -> int:
    with session_scope() as db:
        sent = reconcile(db, get_settings().reconcile_after_s)
        db.commit()  # sends them
        return len(sent.submissions) + len(sent.similarity_runs)


@celery_app.task(name=SIMILARITY_TASK, **RETRY_INFRASTRUCTURE_FAULTS)
def check_similarity(run_id: int) -> str | None:
    """Compare the run's submissions pair by pair, committing progress and pairs as they come.

    Infrastructure faults are retried (the run starts over); any other failure ends the run as
    failed with the reason; a run another attempt has taken over is left to it.
    """
    # Imported here: copydetect brings numpy and matplotlib (about 30 MiB) into a pool process, which
    # most pool processes, grading only, never need.
    from grader.copy_detection import Source, find_copies

    with session_scope() as db:
        job = similarity_runs.begin(db, run_id)
        db.commit()
        if job is None:
            return None
        try:
            code = (Source(key, text) for key, text in similarity_runs.sources(db, job.submission_ids))
            for progress in find_copies(code, job.boilerplate, job.threshold):
                similarity_runs.record(db, job, progress.done, progress.matches)
                db.commit()
            similarity_runs.finish(db, job)
            db.commit()
        except similarity_runs.Superseded:
            return None
        except faults.INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:  # any other failure is the run's, with its reason (logged)
            log.error("similarity run %s failed", run_id, exc_info=exc)
            db.rollback()
            similarity_runs.fail(db, job, f"internal error: {type(exc).__name__}: {exc}")
            db.commit()
            return "failed"
    return "finished"
