"""Similarity runs over HTTP: the course's instructors and TAs start and read them (API and pages);
students, other courses' people and anonymous callers get 403 or 401, never a pair or a file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from harness.samples import submission_source
from harness.variants import disguise
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.web.support import Klass, LiveServer, api, page_session

VECTORISED = submission_source("correct_vectorised")[1]
RUN_TIMEOUT_S = 120


def finished_run(server: LiveServer, klass: Klass, copied: str, original: str = VECTORISED) -> dict[str, Any]:
    """Both students upload (the second a copy), the instructor starts a run over the API and
    waits for it: its final progress."""
    for student, text in zip(klass.students, (original, copied), strict=True):
        with api(server, student) as client:
            url = f"/assignments/{klass.assignment_id}/submissions"
            assert client.post(url, files={"file": ("hw2.py", text.encode())}).status_code == 202
    with api(server, klass.instructor) as prof:
        started = prof.post(f"/assignments/{klass.assignment_id}/similarity", json={"threshold": 0.6})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        wait_until(lambda: prof.get(f"/similarity/{run_id}").json()["status"] in ("finished", "failed"),
                   RUN_TIMEOUT_S, f"similarity run {run_id}", interval=0.3)
        progress: dict[str, Any] = prof.get(f"/similarity/{run_id}").json()
    assert progress["status"] == "finished", progress
    return progress


def test_only_the_courses_staff_reach_similarity_runs(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess,
    make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(shared_sqlite_stack)
    other = make_klass(shared_sqlite_stack)  # a course of its own: its instructor and students are strangers here
    aid = klass.assignment_id
    run = finished_run(sqlite_server, klass, disguise(VECTORISED, 2))
    assert run["done"] == run["total"] == 3 and run["pairs"] == 1

    with api(sqlite_server, klass.instructor) as prof:
        pairs = prof.get(f"/similarity/{run['id']}/pairs").json()
        assert len(pairs) == 1 and pairs[0]["student_a"] == klass.students[0].email
        pair = prof.get(f"/similarity/pairs/{pairs[0]['id']}").json()
        assert pair["a"]["source"] == VECTORISED and pair["a"]["spans"] and pair["b"]["spans"]
        start, end = pair["a"]["spans"][0]
        assert 0 <= start < end <= len(VECTORISED)
        assert prof.get(f"/similarity/{2**31 - 1}").status_code == 404
    with api(sqlite_server, klass.ta) as ta:  # TAs see everyone's work, so its similarity too
        assert ta.get(f"/similarity/{run['id']}/pairs").json() == pairs
        assert ta.get(f"/similarity/pairs/{pairs[0]['id']}").json() == pair

    paths = [f"/similarity/{run['id']}", f"/similarity/{run['id']}/pairs", f"/similarity/pairs/{pairs[0]['id']}"]
    pages = [f"/assignments/{aid}/similarity", f"/similarity/{run['id']}", f"/similarity/pairs/{pairs[0]['id']}"]
    for person in (klass.students[0], other.instructor, other.students[0]):
        with api(sqlite_server, person) as client:
            started = client.post(f"/assignments/{aid}/similarity", json={})
            assert started.status_code == 403, started.text
            for path in paths:
                response = client.get(path)
                assert response.status_code == 403, (person.email, path, response.text)
                assert "source" not in response.text
        with page_session(sqlite_server, person) as browser:
            for path in pages:
                page = browser.get(path)
                assert page.status_code == 403 and "torch.einsum" not in page.text, path
    with api(sqlite_server) as anonymous:
        for path in paths:
            assert anonymous.get(path).status_code == 401
        assert anonymous.post(f"/assignments/{aid}/similarity", json={}).status_code == 401


def test_a_threshold_outside_0_to_1_is_refused_with_a_reason(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    aid = klass.assignment_id
    with api(sqlite_server, klass.instructor) as prof:
        for bad in (0, -0.5, 1.01):
            response = prof.post(f"/assignments/{aid}/similarity", json={"threshold": bad})
            assert response.status_code == 422 and "threshold" in response.json()["detail"], response.text
        assert prof.post(f"/assignments/{aid}/similarity", json={"threshold": "lots"}).status_code == 422
    with page_session(sqlite_server, klass.instructor) as browser:
        token = browser.csrf_token(f"/assignments/{aid}/similarity")
        page = browser.post(f"/assignments/{aid}/similarity", data={"csrf_token": token, "threshold": "7"})
        assert page.status_code == 422 and 'role="alert"' in page.text and "threshold" in page.text
        assert "No comparison yet." in page.text  # nothing was started


def test_the_run_page_lists_the_pair_and_links_its_view(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess,
    make_klass: Callable[..., Klass],
) -> None:
    """Without a browser: what the pages of a finished run hold."""
    klass = make_klass(shared_sqlite_stack)
    run = finished_run(sqlite_server, klass, disguise(VECTORISED, 4))
    with page_session(sqlite_server, klass.instructor) as browser:
        listing = browser.get(f"/assignments/{klass.assignment_id}/similarity").text
        assert f'href="/similarity/{run["id"]}"' in listing
        page = browser.get(f"/similarity/{run['id']}")
        assert page.status_code == 200 and 'http-equiv="refresh"' not in page.text
        assert klass.students[0].email in page.text and klass.students[1].email in page.text
        with httpx.Client(base_url=f"{sqlite_server.url}/api", headers=klass.instructor.headers) as prof:
            pair_id = prof.get(f"/similarity/{run['id']}/pairs").json()[0]["id"]
        assert f'href="/similarity/pairs/{pair_id}"' in page.text
