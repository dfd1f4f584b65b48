"""The sending side of the task queue: task and queue names, and a Celery client without the
worker's configuration, so that whoever sends work (the API, the CLI, the reconciler) imports
nothing of the workers, the engine or torch."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery

from grader.config import get_settings

GRADE_TASK = "workers.tasks.grade_submission"
RECONCILE_TASK = "workers.tasks.reconcile_stuck"
SIMILARITY_TASK = "workers.tasks.check_similarity"
GPU_QUEUE = "gpu"
CPU_QUEUE = "cpu"
DEVICE_OF_QUEUE = {GPU_QUEUE: "cuda", CPU_QUEUE: "cpu"}
_QUEUE_OF_DEVICE = {device: name for name, device in DEVICE_OF_QUEUE.items()}
SQLITE_BROKER = "sqla+sqlite:///"
# A grading message's header: when it was sent (ISO 8601). A header, not an argument, so that a
# worker of an older version still takes the message during a rolling deploy.
SENT_AT_HEADER = "grader_sent_at"


def broker_conf(broker_url: str, key_prefix: str) -> dict[str, Any]:
    """What a sender and a worker must agree on to reach the same queues."""
    if broker_url.startswith(SQLITE_BROKER):
        Path(broker_url.removeprefix(SQLITE_BROKER)).parent.mkdir(parents=True, exist_ok=True)
    prefixed = key_prefix and broker_url.startswith(("redis://", "rediss://"))  # other transports refuse it
    return {
        "broker_url": broker_url,
        "broker_transport_options": {"global_keyprefix": key_prefix} if prefixed else {},
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
    }


@lru_cache(maxsize=4)
def _sender(broker_url: str, key_prefix: str) -> Celery:
    app = Celery("grader-sender", set_as_current=False)
    app.conf.update(broker_conf(broker_url, key_prefix))
    return app


def queue_key(queue_name: str) -> str:
    """The queue `queue_name` of this deployment's broker, as grading runs name it: deployments (or
    tests) that share a database but not a key prefix keep their queues apart."""
    return get_settings().broker_key_prefix + queue_name


def queue_of_run(device: str) -> str | None:
    """The queue (`queue_key`) a run on `device` was taken from: the queue picks the device."""
    name = _QUEUE_OF_DEVICE.get(device)
    return None if name is None else queue_key(name)


def client() -> Celery:
    """A Celery client for the broker the current settings name (one per broker, kept warm)."""
    settings = get_settings()
    return _sender(settings.resolved_broker_url, settings.broker_key_prefix)
