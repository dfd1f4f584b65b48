"""Password logins throttled per account and per client address (and invitation links, which
count against the address's logins).

Each login attempt counts against both its account and its address in a fixed window; past either
limit, attempts are refused (429) until that window ends, before any password is checked. An
attempt is counted before its password is checked, so a burst of simultaneous guesses cannot all
slip in under the limit; a successful login takes its attempt back, so only failures add up.

The counts live in Redis when the broker is Redis (shared by every web process), else in this
process's memory (the embedded laptop setup runs one web process).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import redis

from grader.config import get_settings
from grader.services.errors import Rejected
from grader.services.users import normalize_email

log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis://", "rediss://")
REDIS_TIMEOUT_S = 1.0


class TooManyAttempts(Rejected):
    """429: the account or the address has used its attempts for now."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        minutes = math.ceil(retry_after_s / 60)
        self.wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
        super().__init__(429, f"too many login attempts: try again in {self.wait}")


class Counter(Protocol):
    def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, float]]:
        """Count one attempt on each key: its count in the current window, and the seconds left of it."""

    def undo(self, keys: Sequence[str]) -> None:
        """Take back one attempt from each key (within its window)."""


class MemoryCounter:
    """Fixed windows in a dict; ended ones are dropped once the dict grows."""

    PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, monotonic end of the window)
        self._lock = threading.Lock()

    def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, float]]:
        now = time.monotonic()
        counts = []
        with self._lock:
            if len(self._windows) > self.PRUNE_AT:
                self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
            for key in keys:
                count, ends = self._windows.get(key, (0, 0.0))
                if ends <= now:
                    count, ends = 0, now + window_s
                self._windows[key] = (count + 1, ends)
                counts.append((count + 1, ends - now))
        return counts

    def undo(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                if key in self._windows:
                    count, ends = self._windows[key]
                    self._windows[key] = (max(count - 1, 0), ends)


class RedisCounter:
    """INCR with an expiry set by the first attempt of a window, in one script (atomic).

    While Redis does not answer, attempts are counted in this process instead: logins keep working
    and stay throttled, per process.
    """

    _HIT = """
    local counts = {}
    for i, key in ipairs(KEYS) do
        local count = redis.call('INCR', key)
        if count == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
        counts[i] = {count, redis.call('PTTL', key)}
    end
    return counts
    """
    _UNDO = """
    for _, key in ipairs(KEYS) do
        if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
    end
    """

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        self._prefix = prefix
        self._hit = self._redis.register_script(self._HIT)
        self._undo = self._redis.register_script(self._UNDO)
        self._fallback = MemoryCounter()

    def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, float]]:
        try:
            replies = self._hit(keys=[self._prefix + key for key in keys], args=[window_s * 1000])
        except redis.RedisError as exc:
            log.error("login throttle: Redis does not answer (%s); counting in this process meanwhile", exc)
            return self._fallback.hit(keys, window_s)
        return [(int(count), max(int(ttl_ms), 0) / 1000) for count, ttl_ms in replies]

    def undo(self, keys: Sequence[str]) -> None:
        try:
            self._undo(keys=[self._prefix + key for key in keys])
        except redis.RedisError:
            self._fallback.undo(keys)


def _address_key(address: str) -> str:
    return f"login:address:{address}"


@dataclass(frozen=True)
class LoginThrottle:
    counter: Counter
    per_account: int
    per_address: int
    window_s: int

    @staticmethod
    def _keys(email: str, address: str) -> list[str]:
        """Hashed, so the counters hold no email addresses."""
        account = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
        return [f"login:account:{account}", _address_key(address)]

    def _count(self, keys: list[str], limits: Sequence[int]) -> None:
        counts = self.counter.hit(keys, self.window_s)
        waits = [left for (count, left), limit in zip(counts, limits, strict=True) if count > limit]
        if waits:
            raise TooManyAttempts(max(1, math.ceil(max(waits))))

    def attempt(self, email: str, address: str) -> None:
        """Count a login attempt; TooManyAttempts if the account or the address is past its limit."""
        self._count(self._keys(email, address), (self.per_account, self.per_address))

    def succeeded(self, email: str, address: str) -> None:
        """A right password: its attempt is taken back, so only failures count."""
        self.counter.undo(self._keys(email, address))

    def attempt_link(self, address: str) -> None:
        """Count an invitation link opened from `address`, against the address's login attempts: a
        guessed link is a guessed password, and a link names no account to count against."""
        self._count([_address_key(address)], (self.per_address,))

    def link_worked(self, address: str) -> None:
        """A live link: its attempt is taken back, so only dead links count."""
        self.counter.undo([_address_key(address)])


@lru_cache
def _throttle(broker_url: str, key_prefix: str, per_account: int, per_address: int, window_s: int) -> LoginThrottle:
    redis_broker = broker_url.startswith(REDIS_SCHEMES)
    counter = RedisCounter(broker_url, f"{key_prefix}grader:") if redis_broker else MemoryCounter()
    return LoginThrottle(counter, per_account, per_address, window_s)


def login_throttle() -> LoginThrottle:
    """The throttle the current settings describe (one per configuration, kept for the process)."""
    settings = get_settings()
    return _throttle(settings.resolved_broker_url, settings.broker_key_prefix, settings.login_attempts_per_account,
                     settings.login_attempts_per_address, settings.login_window_s)
