"""The Celery app: queues `gpu` and `cpu`, at-least-once delivery, and the reconciler on a beat.

Tasks are sent by name (grader.services.queue) with a submission id only; the worker reads
everything else from the database, which stays the source of truth if a message is lost.
"""

from __future__ import annotations

import os

# Before torch is imported (workers.tasks): the main process imports it, then forks the pool, and
# a pool process with one thread per core would oversubscribe the cores it shares with the others.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from celery import Celery  # noqa: E402
from kombu import Queue  # noqa: E402

from grader.config import Settings, get_settings  # noqa: E402

GRADE_TASK = "workers.tasks.grade_submission"
RECONCILE_TASK = "workers.tasks.reconcile_stuck"
GPU_QUEUE = "gpu"
CPU_QUEUE = "cpu"
DEVICE_OF_QUEUE = {GPU_QUEUE: "cuda", CPU_QUEUE: "cpu"}
SQLITE_BROKER = "sqla+sqlite:///"


def _broker_conf(broker_url: str, key_prefix: str) -> dict[str, Any]:
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


def create_celery(settings: Settings) -> Celery:
    app = Celery("grader", include=["workers.tasks"])
    app.conf.update(
        _broker_conf(settings.resolved_broker_url, settings.broker_key_prefix),
        task_queues=[Queue(name, routing_key=name) for name in DEVICE_OF_QUEUE],
        task_default_queue=CPU_QUEUE,
        # At-least-once: ack after the task ran, requeue if its process dies, take one at a time.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        beat_schedule={
            "reconcile-stuck-submissions": {
                "task": RECONCILE_TASK,
                # Twice a lease at least: an attempt whose worker died is sent again within about two leases.
                "schedule": min(settings.reconcile_interval_s, settings.run_lease_s / 2),
                "options": {"queue": CPU_QUEUE},
            }
        },
    )
    return app


@lru_cache(maxsize=4)
def _sender(broker_url: str, key_prefix: str) -> Celery:
    app = Celery("grader-sender", set_as_current=False)
    app.conf.update(_broker_conf(broker_url, key_prefix))
    return app


def client() -> Celery:
    """A Celery client for the broker the current settings name (one per broker, kept warm)."""
    settings = get_settings()
    return _sender(settings.resolved_broker_url, settings.broker_key_prefix)


celery_app = create_celery(get_settings())
