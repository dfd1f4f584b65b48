"""The Celery app: queues `gpu` and `cpu`, at-least-once delivery, and the reconciler on a beat.

Tasks are sent by name (grader.services.broker) with a submission id only (a grading message
also says in a header when it was sent); the worker reads everything else from the database,
which stays the source of truth if a message is lost.
"""

from __future__ import annotations

import os

# Before torch is imported (workers.tasks): the main process imports it, then forks the pool, and
# a pool process with one thread per core would oversubscribe the cores it shares with the others.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from celery import Celery
from kombu import Queue

from grader.config import Settings, get_settings
from grader.services.broker import CPU_QUEUE, DEVICE_OF_QUEUE, RECONCILE_TASK, broker_conf


def create_celery(settings: Settings) -> Celery:
    app = Celery("grader", include=["workers.tasks"])
    app.conf.update(
        broker_conf(settings.resolved_broker_url, settings.broker_key_prefix),
        task_queues=[Queue(name, routing_key=name) for name in DEVICE_OF_QUEUE],
        task_default_queue=CPU_QUEUE,
        # At-least-once: ack after the task ran, requeue if its process dies, take one at a time.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.resolved_worker_concurrency,  # `--concurrency` overrides it
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


celery_app = create_celery(get_settings())
