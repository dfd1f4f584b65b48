"""The Celery app promises at-least-once delivery, two queues, and a reconciler on its beat."""

from __future__ import annotations

from sqlalchemy import text

from grader.config import get_settings
from grader.db.session import become_grading_worker, engine_for
from grader.services.broker import CPU_QUEUE, GPU_QUEUE, GRADE_TASK, RECONCILE_TASK, SIMILARITY_TASK
from workers import tasks
from workers.app import celery_app


def test_messages_are_acknowledged_only_after_grading() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_the_pool_is_as_large_as_the_settings_say() -> None:
    assert celery_app.conf.worker_concurrency == get_settings().resolved_worker_concurrency


def test_queues_and_the_tasks_they_run() -> None:
    assert {queue.name for queue in celery_app.conf.task_queues} == {GPU_QUEUE, CPU_QUEUE}
    assert tasks.grade_submission.name == GRADE_TASK and GRADE_TASK in celery_app.tasks
    assert tasks.reconcile_stuck.name == RECONCILE_TASK and RECONCILE_TASK in celery_app.tasks
    assert tasks.check_similarity.name == SIMILARITY_TASK and SIMILARITY_TASK in celery_app.tasks


def test_the_beat_runs_the_reconciler() -> None:
    [entry] = celery_app.conf.beat_schedule.values()
    assert entry["task"] == RECONCILE_TASK and entry["options"]["queue"] == CPU_QUEUE


def test_only_grading_processes_commit_without_waiting_for_the_disk(postgres_server: str) -> None:
    """Uploads are committed durably; claims and results (which the reconciler can redo) are not waited for."""
    # URLs of their own (an application name nothing else uses), so that this process's shared
    # engines stay as they are: one as the web process makes it, one as a grading worker does.
    web, worker = (f"{postgres_server}?application_name=synchronous-commit-{role}" for role in ("web", "worker"))
    become_grading_worker(worker)

    def setting(url: str) -> str:
        with engine_for(url).connect() as connection:
            return str(connection.execute(text("SHOW synchronous_commit")).scalar())

    try:
        assert (setting(web), setting(worker)) == ("on", "off")
    finally:
        for url in (web, worker):
            engine_for(url).dispose()
