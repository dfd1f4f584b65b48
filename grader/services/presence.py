"""Which workers take the gpu queue, as the workers announce it themselves in Redis.

Routing a `device = "auto"` upload needs to know whether a GPU worker runs. Asking the workers
(a broadcast, then a wait for their answers) held an upload for a second. Instead every worker
that takes the gpu queue keeps an entry fresh in one sorted set on the broker's Redis (its name,
scored by the time the entry runs out), and routing counts the live entries: one read. A worker
that dies without a word drops out when its entry runs out, one that stops takes it away. The
clocks of the hosts must agree to within a lease. Other brokers have no such place: there no
worker is announced, and `GRADER_GPU_WORKERS` says whether one runs.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time

import redis

from grader.config import get_settings

log = logging.getLogger(__name__)

GPU_WORKERS_KEY = "grader:gpu-workers"  # under the broker's key prefix, like the queues
REDIS_TIMEOUT_S = 2.0  # an upload reads the set: a Redis that hangs must not hold it long


@functools.lru_cache(maxsize=4)
def _client(broker_url: str) -> redis.Redis:
    return redis.Redis.from_url(broker_url, socket_timeout=REDIS_TIMEOUT_S,
                                socket_connect_timeout=REDIS_TIMEOUT_S)


def _gpu_workers() -> tuple[redis.Redis, str] | None:
    """The Redis client and key of the set, or None when the broker is not Redis."""
    settings = get_settings()
    url = settings.resolved_broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    return _client(url), settings.broker_key_prefix + GPU_WORKERS_KEY


def gpu_worker_announced() -> bool:
    """Whether a worker that takes the gpu queue has announced itself and is still within its lease."""
    where = _gpu_workers()
    if where is None:
        return False
    client, key = where
    try:
        return bool(client.zcount(key, time.time(), "+inf"))
    except redis.RedisError as exc:
        log.warning("cannot read which GPU workers run (%s): routing as if none did", exc)
        return False


def announce(worker: str, lease_s: float) -> None:
    """`worker` takes the gpu queue for the next `lease_s` seconds (and entries that ran out go)."""
    where = _gpu_workers()
    if where is None:
        return
    client, key = where
    now = time.time()
    try:
        with client.pipeline() as pipe:
            pipe.zadd(key, {worker: now + lease_s})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.expire(key, math.ceil(lease_s))  # the whole set goes when no worker is left to renew it
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("cannot announce GPU worker %s (%s); trying again", worker, exc)


def withdraw(worker: str) -> None:
    """`worker` stops taking the gpu queue."""
    where = _gpu_workers()
    if where is None:
        return
    client, key = where
    try:
        client.zrem(key, worker)
    except redis.RedisError as exc:
        log.warning("cannot withdraw GPU worker %s (%s): it drops out when its lease runs out", worker, exc)


class GpuWorkerAnnouncement:
    """A worker's announcement, renewed from a thread three times a lease until `stop`."""

    def __init__(self, worker: str, lease_s: float) -> None:
        self.worker = worker
        self.lease_s = lease_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="gpu-announcement", daemon=True)

    def start(self) -> None:
        announce(self.worker, self.lease_s)  # at once, so the worker is seen as soon as it is ready
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        withdraw(self.worker)

    def _renew(self) -> None:
        while not self._stopped.wait(self.lease_s / 3):
            announce(self.worker, self.lease_s)
