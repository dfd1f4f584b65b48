"""Uploads over HTTP: a good one is accepted (202); each bad one gets its status and message and
leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE
from tests.web.support import Klass, LiveServer, api

LIMIT = 1_000_000  # the default max_upload_bytes

BAD_UPLOADS = [
    pytest.param("hw2.py", b"", 422, "is empty", id="empty"),
    pytest.param("hw2.py", b"  \n\t\n", 422, "is empty", id="blank"),
    pytest.param("hw2.py", b"#" * (LIMIT + 1), 413, "upload limit of 1,000,000 bytes", id="oversized"),
    pytest.param("hw2.py", b"x = '\xff\xfe'\n", 422, "not UTF-8", id="not-utf8"),
    pytest.param("hw2.txt", REFERENCE, 415, "upload a .py file or a .ipynb notebook", id="wrong-type"),
    pytest.param("hw2", REFERENCE, 415, "upload a .py file or a .ipynb notebook", id="no-suffix"),
    pytest.param("hw2.ipynb", b"{not json", 422, "not a valid Jupyter notebook", id="broken-notebook"),
]


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack, max_submissions=2)


def test_an_upload_is_accepted_and_queued(sqlite_server: LiveServer, klass: Klass) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        response = student.post(f"/assignments/{klass.assignment_id}/submissions",
                                files={"file": ("hw2.py", REFERENCE, "text/x-python")})
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["status"] == "queued"
        detail = student.get(f"/submissions/{accepted['id']}").json()
    assert detail["submission"]["filename"] == "hw2.py" and detail["submission"]["size"] == len(REFERENCE)
    assert detail["feedback"]["status"] == "queued" and detail["feedback"]["score"] == 0


def test_a_notebook_is_accepted(sqlite_server: LiveServer, klass: Klass) -> None:
    notebook = {"cells": [{"cell_type": "code", "source": REFERENCE.decode()}], "metadata": {}, "nbformat": 4}
    with api(sqlite_server, klass.students[0]) as student:
        response = student.post(f"/assignments/{klass.assignment_id}/submissions",
                                files={"file": ("hw2.ipynb", json.dumps(notebook).encode())})
    assert response.status_code == 202


@pytest.mark.parametrize(("filename", "data", "status", "message"), BAD_UPLOADS)
def test_a_bad_upload_is_refused_and_not_stored(
    sqlite_server: LiveServer, klass: Klass, filename: str, data: bytes, status: int, message: str
) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        response = student.post(f"/assignments/{klass.assignment_id}/submissions", files={"file": (filename, data)})
        assert response.status_code == status
        assert message in response.json()["detail"]
        assert student.get("/submissions").json() == []


def test_a_request_without_a_file_is_422(sqlite_server: LiveServer, klass: Klass) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        response = student.post(f"/assignments/{klass.assignment_id}/submissions", data={"note": "forgot it"})
        assert response.status_code == 422
        assert student.get("/submissions").json() == []


def test_uploads_past_the_limit_are_429(sqlite_server: LiveServer, klass: Klass) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        url = f"/assignments/{klass.assignment_id}/submissions"
        assert [student.post(url, files={"file": ("hw2.py", REFERENCE)}).status_code for _ in range(2)] == [202, 202]
        third = student.post(url, files={"file": ("hw2.py", REFERENCE)})
        assert third.status_code == 429 and "all 2 submissions" in third.json()["detail"]
        assert len(student.get("/submissions").json()) == 2


def test_late_uploads_are_409_when_the_assignment_refuses_them(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, due_at=datetime.now(UTC) - timedelta(hours=1), late_after="reject")
    with api(sqlite_server, klass.students[0]) as student:
        url = f"/assignments/{klass.assignment_id}/submissions"
        response = student.post(url, files={"file": ("hw2.py", REFERENCE)})
        assert response.status_code == 409 and "has passed" in response.json()["detail"]
        assert student.get("/submissions").json() == []
