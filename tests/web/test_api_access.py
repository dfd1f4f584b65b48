"""Who may call what: no token -> 401, the wrong person -> 403/404, always as JSON {"detail": ...}."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE
from tests.web.support import PASSWORD, Klass, LiveServer, api, http_client


def _upload(client: httpx.Client, assignment_id: int) -> httpx.Response:
    return client.post(f"/assignments/{assignment_id}/submissions", files={"file": ("hw2.py", REFERENCE)})


def test_no_token_is_401_with_a_json_error_and_a_bearer_challenge(sqlite_server: LiveServer) -> None:
    with api(sqlite_server) as anonymous:
        for path in ("/assignments", "/submissions", "/auth/me", "/assignments/1/gradebook"):
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert "not authenticated" in response.json()["detail"]
        assert anonymous.get("/auth/me", headers={"Authorization": "Bearer grd_nope"}).status_code == 401


def test_a_password_buys_a_token_that_identifies_the_user(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    with api(sqlite_server) as anonymous:
        wrong = anonymous.post("/auth/token", json={"email": klass.students[0].email, "password": "guess"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong email or password"}
        token = anonymous.post("/auth/token", json={"email": klass.students[0].email, "password": PASSWORD}).json()
    assert token["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    with http_client(f"{sqlite_server.url}/api", headers=bearer) as client:
        me = client.get("/auth/me").json()
    assert me["email"] == klass.students[0].email and me["role"] == "student"


def test_students_get_403_json_on_instructor_routes(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    aid = klass.assignment_id
    with api(sqlite_server, klass.students[0]) as student:
        submission_id = _upload(student, aid).json()["id"]
        for response in (
            student.get(f"/assignments/{aid}/gradebook"),
            student.get(f"/assignments/{aid}/gradebook.csv"),
            student.post(f"/assignments/{aid}/regrades", json={"reason": "more points please"}),
            student.put(f"/submissions/{submission_id}/manual-grades/1.2.1a", json={"score": 4}),
        ):
            assert response.status_code == 403, response.request.url
            assert response.headers["content-type"] == "application/json"
            assert "only instructors" in response.json()["detail"]


def test_students_see_only_their_own_submissions_and_courses(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass, other = make_klass(shared_sqlite_stack), make_klass(shared_sqlite_stack)
    first, second = klass.students
    with api(sqlite_server, first) as alice, api(sqlite_server, second) as bob:
        mine = _upload(alice, klass.assignment_id).json()["id"]
        assert [s["id"] for s in alice.get("/submissions").json()] == [mine]
        assert bob.get("/submissions").json() == []
        assert bob.get(f"/submissions/{mine}").status_code == 403
        assert bob.get("/submissions/999999").status_code == 404
    with api(sqlite_server, other.students[0]) as stranger:
        assert stranger.get(f"/assignments/{klass.assignment_id}").status_code == 403
        assert _upload(stranger, klass.assignment_id).status_code == 403
        assert [a["id"] for a in stranger.get("/assignments").json()] == [other.assignment_id]
    with api(sqlite_server, other.instructor) as other_prof:
        assert other_prof.get(f"/submissions/{mine}").status_code == 403
        assert other_prof.get(f"/assignments/{klass.assignment_id}/gradebook").status_code == 403
    with api(sqlite_server, klass.instructor) as prof:
        theirs = prof.get("/submissions", params={"assignment_id": klass.assignment_id}).json()
        assert [s["id"] for s in theirs] == [mine]


def test_the_api_is_documented(sqlite_server: LiveServer) -> None:
    with http_client(sqlite_server.url) as client:
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    assert "/api/assignments/{assignment_id}/submissions" in paths
    assert "/login" not in paths
