"""Fixtures for the web tests: a real uvicorn server (and worker) on a stack, and a class to act as.

The server runs in a subprocess with the stack's GRADER_* variables; this process seeds the
class through the services on the same database (`use_stack`) and talks to the server over HTTP.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from sqlalchemy.orm import Session

from grader.db.models import Course, User
from grader.db.session import session_scope
from grader.services import assignments, courses, roster, users
from tests.fixtures.services import Stack
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.support import PASSWORD, Klass, LiveServer, Person


def _serve(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(stack, tmp_path_factory.mktemp("web-server") / "uvicorn.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_server(shared_sqlite_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _serve(shared_sqlite_stack, tmp_path_factory)


@pytest.fixture(scope="session")
def postgres_server_app(postgres_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The API on PostgreSQL + Redis, graded by the session's shared postgres worker."""
    yield from _serve(postgres_stack, tmp_path_factory)


TEST_SCRYPT_N = 2**10  # a sixteenth of the stored cost: the web tests log in hundreds of times


@functools.cache
def _password_hash() -> str:
    """PASSWORD's scrypt hash, made once and at a low cost. A stored hash carries its parameters,
    so the server checks it as it checks any other; the production cost is slow on purpose, which
    only the tests of that cost need (they make users of their own, or log in as nobody)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "SCRYPT_N", TEST_SCRYPT_N)
        return users.hash_password(PASSWORD)


def _person(db: Session, tag: str, key: str, role: str, course: Course, teacher: User) -> Person:
    """An account with PASSWORD and an API token, enrolled by `teacher` with `role` in the course."""
    email, name = f"{key}-{tag}@web.test", f"{key.title()} {tag}"
    user = roster.enrol(db, teacher, course, email, role, name).user
    user.password_hash = _password_hash()
    return Person(email, name, users.issue_token(db, user))


@pytest.fixture
def make_klass(use_stack: Callable[[Stack], None]) -> Callable[..., Klass]:
    """make_klass(stack, rubric_id="hw2", **assignment) -> a new Klass on that stack's database."""

    def make(stack: Stack, rubric_id: str = "hw2", **assignment: object) -> Klass:
        use_stack(stack)
        tag = uuid.uuid4().hex[:8]
        assignment.setdefault("due_at", datetime.now(UTC) + timedelta(days=7))
        with session_scope() as db:
            prof = users.create_user(db, f"prof-{tag}@web.test", f"Prof {tag}", "instructor")
            prof.password_hash = _password_hash()
            course = courses.create_course(db, prof, f"WEB-{tag}", f"Deep learning {tag}")
            instructor = Person(prof.email, prof.name, users.issue_token(db, prof))
            students = [_person(db, tag, f"student{i}", "student", course, prof) for i in (1, 2)]
            ta = _person(db, tag, "ta", "ta", course, prof)
            settings = assignments.AssignmentSettings(title="HW2", **assignment)  # type: ignore[arg-type]
            hw = assignments.create_assignment(db, prof, course, "hw2", rubric_id, settings)
            db.commit()
            return Klass(hw.id, rubric_id, instructor, students, course.id, course.code, ta)

    return make


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, one for the session (each test gets its own context, see
    `page`); skipped without it on a laptop, a failure in CI."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (scripts/ensure-chromium.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true needs the browser tests")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _local(url: str) -> bool:
    return urlsplit(url).hostname == "127.0.0.1"


def _local_only(route: Route) -> None:
    """Pages must work offline: anything not served by the test server fails the request."""
    if _local(route.request.url):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def viewport() -> dict[str, Any]:
    """The browser window of `page`; a test module overrides it to try another size."""
    return {"width": 1280, "height": 900}


@pytest.fixture
def page(chromium: Browser, viewport: dict[str, Any]) -> Iterator[Page]:
    """A fresh browser tab that may load nothing but the test server: it fails if a page asked for more."""
    context = chromium.new_context(viewport=viewport)
    context.route("**/*", _local_only)
    page = context.new_page()
    outside: list[str] = []
    # A download ends its own request as failed (aborted): only a request elsewhere counts.
    page.on("requestfailed", lambda request: None if _local(request.url) else outside.append(request.url))
    yield page
    context.close()
    assert not outside, f"the pages asked for {outside}"
