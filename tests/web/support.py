"""What the web tests act with: a live uvicorn server, the people of a class, an API client."""

from __future__ import annotations

import functools
import os
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from grader.config import PROJECT_ROOT
from grader.db.models import Assignment
from grader.db.session import session_scope
from grader.services import publishing, users
from harness.servers import free_port, wait_until
from tests.fixtures.services import Stack

SERVER_READY_TIMEOUT_S = 30
GRADING_TIMEOUT_S = 90  # one submission on a busy shared worker
PASSWORD = "correct horse battery staple"


class LiveServer:
    """`uvicorn grader.api.main:create_app` on a free 127.0.0.1 port, with the stack's settings."""

    def __init__(self, stack: Stack, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = log_path
        command = [sys.executable, "-m", "uvicorn", "grader.api.main:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", self.url.rsplit(":", 1)[1], "--log-level", "warning"]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")},
               "GRADER_PUBLIC_URL": self.url, **stack.env}  # the links it makes lead to it
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, SERVER_READY_TIMEOUT_S, "the web server to answer")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"uvicorn exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
        try:
            with http_client(self.url, timeout=1) as client:
                return client.get("/login").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Person:
    email: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Klass:
    """A course of its own: one instructor, two students, a TA, one HW2 assignment (unique names)."""

    assignment_id: int
    rubric_id: str
    instructor: Person
    students: list[Person]
    course_id: int
    course_code: str
    ta: Person


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of every client here: httpx builds one per client unless it is given
    one, loading the whole CA bundle each time, and these tests make hundreds of clients (all
    speaking plain HTTP to 127.0.0.1)."""
    return httpx.create_ssl_context()


def http_client(base_url: str, **options: Any) -> httpx.Client:
    """An httpx client on `base_url` with the shared TLS context, and a 30 s timeout unless told."""
    options.setdefault("timeout", 30)
    return httpx.Client(base_url=base_url, verify=tls_context(), **options)


def api(server: LiveServer, person: Person | None = None) -> httpx.Client:
    """An HTTP client on the live server's API, as `person` (bearer token) or anonymous."""
    return http_client(f"{server.url}/api", headers=person.headers if person else {})


def upload_and_wait(server: LiveServer, person: Person, assignment_id: int, data: bytes,
                    filename: str = "hw2.py") -> int:
    """Upload `data` as `person` over the API and wait until it is graded: the submission's id."""
    with api(server, person) as client:
        response = client.post(f"/assignments/{assignment_id}/submissions", files={"file": (filename, data)})
        assert response.status_code == 202, response.text
        sid = int(response.json()["id"])
        wait_until(lambda: client.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded",
                   GRADING_TIMEOUT_S, f"submission {sid} to be graded", interval=0.5)
    return sid


class PageSession(httpx.Client):
    """A client of the pages that keeps its session cookie, like a browser without JavaScript."""

    def csrf_token(self, path: str) -> str:
        """The CSRF token of the form on the page at `path`."""
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text)
        assert match, f"no CSRF field on {path}"
        return match.group(1)


@contextmanager
def page_session(server: LiveServer, person: Person) -> Iterator[PageSession]:
    """A page session logged in as `person` through the login form."""
    with PageSession(base_url=server.url, timeout=30, verify=tls_context()) as client:
        login = client.post("/login", data={"email": person.email, "password": PASSWORD,
                                            "csrf_token": client.csrf_token("/login")})
        assert login.status_code == 303, login.text[:300]
        yield client


def publish(klass: Klass) -> str:
    """Publish the class's rubric folder as it is on disk now, as its instructor; the version's hash.
    (On the database of the stack the class was made on, which `make_klass` points this process at.)"""
    with session_scope() as db:
        assignment = db.get_one(Assignment, klass.assignment_id)
        instructor = users.get_user_by_email(db, klass.instructor.email)
        assert instructor is not None
        publishing.publish(db, instructor, assignment)
        db.commit()
        return assignment.rubric_hash
