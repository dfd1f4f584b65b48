"""The Celery app promises at-least-once delivery, two queues, and a reconciler on its beat."""

from __future__ import annotations

from workers import tasks
from workers.app import CPU_QUEUE, GPU_QUEUE, GRADE_TASK, RECONCILE_TASK, celery_app


def test_messages_are_acknowledged_only_after_grading() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_queues_and_the_tasks_they_run() -> None:
    assert {queue.name for queue in celery_app.conf.task_queues} == {GPU_QUEUE, CPU_QUEUE}
    assert tasks.grade_submission.name == GRADE_TASK and GRADE_TASK in celery_app.tasks
    assert tasks.reconcile_stuck.name == RECONCILE_TASK and RECONCILE_TASK in celery_app.tasks


def test_the_beat_runs_the_reconciler() -> None:
    [entry] = celery_app.conf.beat_schedule.values()
    assert entry["task"] == RECONCILE_TASK and entry["options"]["queue"] == CPU_QUEUE
