"""Password guessing is throttled per account and per client address (429 with Retry-After), on
the in-memory counter (SQLite stack) and on Redis (PostgreSQL + Redis stack), and a flood of logins
does not hold up the other requests.

Each test logs in from client addresses of its own (127.x.y.z: all reach the server on loopback),
so the shared servers' counters for 127.0.0.1 are left alone.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from grader.config import get_settings
from tests.fixtures.services import Stack
from tests.web.support import PASSWORD, Klass, LiveServer, http_client, tls_context

MAX_TRIES = 200  # past every default limit
BURST = 100
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fresh_address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def client_from(server: LiveServer, address: str) -> httpx.Client:
    """A client whose connections come from `address`, the client address the server sees."""
    return http_client(server.url, transport=httpx.HTTPTransport(local_address=address, verify=tls_context()),
                       timeout=60)


def token_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/token", json={"email": email, "password": password})


def guess_until_refused(client: httpx.Client, emails: Callable[[], str]) -> tuple[int, httpx.Response]:
    """Wrong passwords until the answer is not 401: (how many 401s came first, that answer)."""
    for tries in range(MAX_TRIES):
        response = token_login(client, emails(), "not the password")
        if response.status_code != 401:
            return tries, response
    pytest.fail(f"{MAX_TRIES} wrong passwords in a row and never a 429")


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= get_settings().login_window_s
    assert "too many" in response.json()["detail"].lower()


@pytest.fixture(params=["memory", "redis"])
def served(request: pytest.FixtureRequest, make_klass: Callable[..., Klass]) -> tuple[LiveServer, Klass, Stack]:
    """A server and a class of its own: the SQLite stack counts in memory, the Redis stack in Redis."""
    stack_name, server_name = {"memory": ("shared_sqlite_stack", "sqlite_server"),
                               "redis": ("postgres_stack", "postgres_server_app")}[request.param]
    stack: Stack = request.getfixturevalue(stack_name)
    return request.getfixturevalue(server_name), make_klass(stack), stack


def _redis_login_keys(stack: Stack) -> list[bytes]:
    with redis.Redis.from_url(stack.broker_url) as client:
        return list(client.scan_iter(f"{stack.broker_key_prefix}grader:login:*"))


def test_wrong_passwords_lock_the_account(served: tuple[LiveServer, Klass, Stack]) -> None:
    server, klass, stack = served
    victim, other = klass.students
    with client_from(server, fresh_address()) as attacker:
        failures, refused = guess_until_refused(attacker, lambda: victim.email)
    assert failures == get_settings().login_attempts_per_account
    assert_throttled(refused)
    if stack.broker_url.startswith("redis://"):
        keys = _redis_login_keys(stack)
        assert keys, "the Redis stack's server keeps no counts in Redis"
        assert not any(victim.email.encode() in key for key in keys)  # emails are hashed
    with client_from(server, fresh_address()) as elsewhere:
        assert_throttled(token_login(elsewhere, victim.email, PASSWORD))  # the account itself is locked
        csrf = CSRF.search(elsewhere.get("/login").text).group(1)  # type: ignore[union-attr]
        form = elsewhere.post("/login", data={"email": victim.email, "password": PASSWORD, "csrf_token": csrf})
        assert form.status_code == 429 and int(form.headers["retry-after"]) > 0
        assert "Too many failed logins" in form.text and "<form" in form.text
    with client_from(server, fresh_address()) as bystander:
        assert token_login(bystander, other.email, PASSWORD).status_code == 200


def test_wrong_passwords_from_one_address_lock_that_address(served: tuple[LiveServer, Klass, Stack]) -> None:
    server, klass, _ = served
    address = fresh_address()
    with client_from(server, address) as attacker:
        failures, refused = guess_until_refused(attacker, lambda: f"{uuid.uuid4().hex}@nowhere.test")
        assert failures == get_settings().login_attempts_per_address
        assert_throttled(refused)
        assert_throttled(token_login(attacker, klass.students[0].email, PASSWORD))
    with client_from(server, fresh_address()) as student:
        assert token_login(student, klass.students[0].email, PASSWORD).status_code == 200


def test_other_requests_are_answered_while_passwords_are_being_checked(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    """A burst of logins from many addresses for many accounts (so no limit stops it) keeps the
    password checks busy; a request that checks no password is answered while most of them wait."""
    student = make_klass(shared_sqlite_stack).students[0]
    finished = 0
    first_finished = threading.Event()
    lock = threading.Lock()

    def wrong_login(_: int) -> int:
        nonlocal finished
        with client_from(sqlite_server, fresh_address()) as client:
            status = token_login(client, f"{uuid.uuid4().hex}@nowhere.test", "not the password").status_code
        with lock:
            finished += 1
        first_finished.set()
        return status

    with ThreadPoolExecutor(BURST) as pool:
        burst = pool.map(wrong_login, range(BURST))
        assert first_finished.wait(120), "no login of the burst finished"
        with http_client(sqlite_server.url, headers=student.headers, timeout=120) as client:
            me = client.get("/api/auth/me")
        with lock:
            finished_before_me = finished
        statuses = list(burst)
    assert me.status_code == 200
    assert statuses == [401] * BURST
    assert finished_before_me < BURST // 2, f"{finished_before_me} of {BURST} logins were checked before /me"
