"""Sessions for the service tests: on PostgreSQL + Redis, or the same test on both that and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from grader.db.session import session_scope
from tests.fixtures.services import Stack


@pytest.fixture
def postgres_db(use_stack: Callable[[Stack], None], postgres_stack: Stack) -> Iterator[Session]:
    """A session on the session's PostgreSQL database, with this process sending to its Redis."""
    use_stack(postgres_stack)
    with session_scope() as db:
        yield db


@pytest.fixture(params=["postgres", "sqlite"])
def any_db(request: pytest.FixtureRequest, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """The same test on PostgreSQL + Redis and on the embedded SQLite default."""
    use_stack(request.getfixturevalue(f"{request.param}_stack"))
    with session_scope() as db:
        yield db
