"""Sessions for the service tests: on PostgreSQL + Redis, or the same test on both that and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from grader.db.session import session_scope
from grader.services import queue
from tests.fixtures.services import Stack, key_prefix
from tests.service.helpers import SentTasks


@pytest.fixture
def postgres_db(use_stack: Callable[[Stack], None], postgres_stack: Stack) -> Iterator[Session]:
    """A session on the session's PostgreSQL database, with this process sending to its Redis."""
    use_stack(postgres_stack)
    with session_scope() as db:
        yield db


@pytest.fixture(params=["postgres", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, unmigrated database of this test's own, on PostgreSQL and on SQLite:
    for the migrations' tests, which upgrade it step by step."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("empty_postgres_database")


@pytest.fixture(params=["postgres", "sqlite"])
def any_db(request: pytest.FixtureRequest, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """The same test on PostgreSQL + Redis and on the embedded SQLite default."""
    use_stack(request.getfixturevalue(f"{request.param}_stack"))
    with session_scope() as db:
        yield db


def _quiet(stack: Stack, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """A session on `stack`, whose messages go to queues no worker reads."""
    use_stack(stack.with_broker(stack.broker_url, key_prefix()))
    with session_scope() as db:
        yield db


@pytest.fixture(params=["postgres", "sqlite"])
def quiet_db(request: pytest.FixtureRequest, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """Like any_db, but its messages go to queues no worker reads: for tests that play the worker,
    whose submissions a worker left running by another test must not claim."""
    yield from _quiet(request.getfixturevalue(f"{request.param}_stack"), use_stack)


@pytest.fixture
def quiet_postgres_db(postgres_stack: Stack, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """quiet_db on PostgreSQL only: for tests of its row locks, which SQLite does not have."""
    yield from _quiet(postgres_stack, use_stack)


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    """The tasks the services send from now on, recorded instead of sent."""
    sent = SentTasks()
    monkeypatch.setattr(queue, "client", lambda: sent)
    return sent
