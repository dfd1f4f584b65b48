"""The login throttle's counters: limits per account and per address, and Redis going away."""

from __future__ import annotations

import pytest

from grader.services.throttle import LoginThrottle, MemoryCounter, RedisCounter, TooManyAttempts

WINDOW_S = 600


def _exhaust(throttle: LoginThrottle, email: str, address: str, attempts: int) -> None:
    for _ in range(attempts):
        throttle.attempt(email, address)


@pytest.mark.parametrize("counter", [MemoryCounter(), RedisCounter("redis://127.0.0.1:1/0", "unreachable:")],
                         ids=["memory", "redis-down"])
def test_limits_per_account_and_per_address(counter: MemoryCounter | RedisCounter) -> None:
    """An unreachable Redis falls back to counting in the process: still throttled, never locked out."""
    throttle = LoginThrottle(counter, per_account=3, per_address=5, window_s=WINDOW_S)
    _exhaust(throttle, "Ada@Example.edu", "10.0.0.1", 3)
    with pytest.raises(TooManyAttempts) as refused:
        throttle.attempt(" ada@example.EDU", "10.0.0.2")  # the same account, however spelled
    assert 0 < refused.value.retry_after_s <= WINDOW_S and refused.value.status_code == 429
    throttle.attempt("grace@example.edu", "10.0.0.3")

    _exhaust(throttle, "b@example.edu", "10.0.0.9", 1)
    throttle.succeeded("b@example.edu", "10.0.0.9")  # a right password takes its attempt back
    _exhaust(throttle, "b@example.edu", "10.0.0.9", 3)
    for n in range(2):
        _exhaust(throttle, f"other{n}@example.edu", "10.0.0.9", 1)
    with pytest.raises(TooManyAttempts):
        throttle.attempt("someone-else@example.edu", "10.0.0.9")  # the address is used up
