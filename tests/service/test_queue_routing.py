"""Which queue a submission goes to, and that the message really lands there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from sqlalchemy.orm import Session

from grader.db.models import Device
from grader.services.queue import gpu_workers_available, queue_for
from tests.fixtures.services import Stack, WorkerProcess, key_prefix
from tests.service.helpers import make_class, upload


@pytest.mark.parametrize(
    ("device", "gpu_workers", "fallback", "queue"),
    [
        ("cuda", False, True, "gpu"),
        ("cuda", True, True, "gpu"),
        ("cpu", True, True, "cpu"),
        ("auto", True, True, "gpu"),
        ("auto", False, True, "cpu"),
        ("auto", False, False, "gpu"),
    ],
)
def test_queue_for_device(device: str, gpu_workers: bool, fallback: bool, queue: str) -> None:
    assert queue_for(device, gpu_workers, fallback) == queue


@pytest.mark.parametrize(("gpu_workers", "queue"), [("true", "gpu"), ("false", "cpu")])
def test_an_auto_rubric_goes_to_the_gpu_queue_only_when_gpu_workers_exist(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None], gpu_workers: str, queue: str
) -> None:
    prefix = key_prefix()
    use_stack(postgres_stack.with_broker(postgres_stack.broker_url, prefix).with_env(GRADER_GPU_WORKERS=gpu_workers))
    klass = make_class(postgres_db)
    assert klass.assignment.device == Device.auto  # hw2's rubric asks for `auto`
    upload(postgres_db, klass.students[0], klass.assignment)
    broker = redis.Redis.from_url(postgres_stack.broker_url)
    assert (broker.llen(prefix + "gpu"), broker.llen(prefix + "cpu")) == ((1, 0) if queue == "gpu" else (0, 1))
    broker.delete(prefix + "gpu", prefix + "cpu")
    broker.close()


def test_gpu_workers_are_detected_when_not_configured(
    postgres_stack: Stack, use_stack: Callable[[Stack], None], start_worker: Callable[..., WorkerProcess]
) -> None:
    """With GRADER_GPU_WORKERS unset, the workers on the broker are asked which queues they take."""
    unset = postgres_stack.with_env(GRADER_GPU_WORKERS="")
    with_gpu_worker = unset.with_broker(unset.broker_url, key_prefix())
    start_worker(with_gpu_worker, queues="gpu")
    use_stack(with_gpu_worker)
    assert gpu_workers_available() is True
    use_stack(unset.with_broker(unset.broker_url, key_prefix()))
    assert gpu_workers_available() is False
