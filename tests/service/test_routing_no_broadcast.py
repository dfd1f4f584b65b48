"""Routing an upload reads what the workers announced; it never broadcasts to them and waits.

Asking the workers (a `control.inspect` broadcast with a one-second wait) blocked the first upload
after each minute, and every upload of a burst made its own. A broadcast is a PUBLISH on Redis: a
private redis-server counts them.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from sqlalchemy.orm import Session

from grader.db.models import Device
from grader.services.queue import gpu_workers_available
from tests.fixtures.services import RedisServer, Stack, WorkerProcess, wait_until
from tests.service.helpers import make_class, upload


def _publishes(broker: redis.Redis) -> int:
    stats = broker.info("commandstats").get("cmdstat_publish", {})
    return int(stats.get("calls", 0))


def test_uploads_are_routed_without_asking_the_workers(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess], private_redis: RedisServer,
) -> None:
    db = postgres_db
    stack = postgres_stack.with_broker(private_redis.url).with_env(GRADER_GPU_WORKERS="")  # unset: find out
    use_stack(stack)
    broker = redis.Redis.from_url(private_redis.url)
    klass = make_class(db, students=2)
    assert klass.assignment.device == Device.auto

    before = _publishes(broker)
    for student in klass.students:  # the second within the first's minute, as in a burst
        upload(db, student, klass.assignment)
    assert (broker.llen("gpu"), broker.llen("cpu")) == (0, 2)  # no GPU worker: the CPU takes `auto`
    assert _publishes(broker) == before  # and nobody was asked

    gpu_worker = start_worker(stack, queues="gpu")
    before = _publishes(broker)
    assert gpu_workers_available() is True  # it announced itself when it started
    assert _publishes(broker) == before

    gpu_worker.kill()  # no goodbye: its announcement runs out with the lease (2 s)
    wait_until(lambda: not gpu_workers_available(), 30, "the dead GPU worker's announcement to run out")
    upload(db, klass.students[0], klass.assignment)
    assert (broker.llen("gpu"), broker.llen("cpu")) == (0, 3)
    assert _publishes(broker) == before
    broker.close()
