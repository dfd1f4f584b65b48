"""The OpenAPI schema tells the truth about errors: each status a route really answers with is
documented on that route, and the body it really sends validates against the documented schema.

Every operation in /openapi.json is called anonymously, by a student of another course, with ids
that name nothing and with a malformed request; what comes back is checked against its document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE
from tests.web.support import PASSWORD, Klass, LiveServer, api, http_client

# What a valid call of each operation that takes a body sends (a new operation with a body needs one).
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/auth/token"): {"json": {"email": "nobody@web.test", "password": PASSWORD}},
    ("post", "/api/assignments/{assignment_id}/submissions"): {"files": {"file": ("hw2.py", REFERENCE)}},
    ("put", "/api/submissions/{submission_id}/manual-grades/{question_id}"): {"json": {"score": 1}},
    ("post", "/api/assignments/{assignment_id}/regrades"): {"json": {"reason": "docs"}},
    ("patch", "/api/assignments/{assignment_id}"): {"json": {"cooldown_s": 60, "late_credit": "2d=80",
                                                             "late_after": "zero"}},
    ("post", "/api/courses"): {"json": {"code": "DOCS", "title": "Docs"}},
    ("post", "/api/courses/{course_id}/assignments"): {"json": {"slug": "docs", "rubric_id": "hw2"}},
    ("post", "/api/courses/{course_id}/enrolments"): {"json": {"email": "docs@web.test"}},
    ("post", "/api/courses/{course_id}/roster"): {"files": {"file": ("roster.csv", b"email\ndocs@web.test\n")}},
    ("post", "/api/courses/{course_id}/invites"): {"json": {"all_without_password": True}},
    ("put", "/api/assignments/{assignment_id}/extensions/{user_id}"): {"json": {"due_at": "2999-01-01T00:00:00Z"}},
    ("put", "/api/courses/{course_id}/grace"): {"json": {"grace_days": 2}},
    ("post", "/api/assignments/{assignment_id}/similarity"): {"json": {"threshold": 0.6}},
    ("post", "/api/assignments/{assignment_id}/rubric/publish"): {"json": {"regrade": False}},
    ("put", "/api/assignments/{assignment_id}/groups/feedback"): {"json": {
        "question_id": "1.1b", "case_name": "test_conv_output_size[L9-K3-S1-P2-D1]", "function": "conv_output_size",
        "signature": "0123456789abcdef", "text": "docs"}},
}
LOGIN = ("post", "/api/auth/token")
LARGEST_ID = 2**31 - 1  # PostgreSQL's INTEGER: a valid id that names nothing here
UNPARSABLE = {  # a body the server cannot even parse, per media type
    "application/json": b"[" * 100_000,
    "multipart/form-data": b"--no-boundary-given",
}


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def documented(self) -> set[int]:
        return {int(status) for status in self.spec["responses"]}

    @property
    def secured(self) -> bool:
        return bool(self.spec.get("security"))

    def params(self, where: str) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == where]


@dataclass
class Observed:
    """Every error status seen per operation, and the bodies that did not match their document."""

    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def openapi(sqlite_server: LiveServer) -> dict[str, Any]:
    with http_client(sqlite_server.url) as client:
        return client.get("/openapi.json").json()


def _operations(openapi: dict[str, Any]) -> list[Operation]:
    return [Operation(method, path, spec) for path, methods in openapi["paths"].items()
            for method, spec in methods.items()]


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack)


@pytest.fixture
def ids(sqlite_server: LiveServer, klass: Klass) -> dict[str, str]:
    """A real value for every path and query parameter: a submission, a regrade batch, a question, a
    token, an assignment's slug, the course (its id and its code), a student, a roster page, a
    similarity run (and a pair id: with no worker here, none is found), and the key of a
    wrong-answer group nobody gave."""
    aid = klass.assignment_id
    with api(sqlite_server, klass.students[0]) as student:
        sid = student.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        tid = student.get("/auth/tokens").json()[0]["id"]
        course = student.get(f"/assignments/{aid}").json()["course_code"]
        uid = student.get("/auth/me").json()["id"]
    with api(sqlite_server, klass.instructor) as prof:
        bid = prof.post(f"/assignments/{aid}/regrades", json={"submission_ids": [sid]}).json()["id"]
        rid = prof.post(f"/assignments/{aid}/similarity", json={}).json()["id"]
    return {"assignment_id": str(aid), "submission_id": str(sid), "batch_id": str(bid), "question_id": "1.2.1a",
            "token_id": str(tid), "slug": "hw2", "course": course, "course_id": str(klass.course_id),
            "user_id": str(uid), "offset": "0", "limit": "50", "search": "", "totals": "true", "run_id": str(rid),
            "pair_id": "1", "case_name": "test_conv_output_size[L9-K3]", "function": "conv_output_size",
            "signature": "0123456789abcdef"}


def _call(server: LiveServer, op: Operation, values: dict[str, str], headers: dict[str, str],
          **request: Any) -> httpx.Response:
    path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], op.path)
    params = {name: values[name] for name in op.params("query")}
    if not request:
        request.update(VALID_BODIES.get((op.method, op.path), {}))
    with http_client(server.url) as client:
        return client.request(op.method, path, params=params, headers=headers, **request)


def _check(openapi: dict[str, Any], op: Operation, response: httpx.Response, seen: Observed) -> None:
    """Record an error status, and whether its body fits what the operation documents for it."""
    status = response.status_code
    if status < 400:
        return
    seen.statuses.setdefault((op.method, op.path), set()).add(status)
    documented = op.spec["responses"].get(str(status))
    if documented is None:
        return  # reported as undocumented by the caller
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        seen.problems.append(f"{op.method.upper()} {op.path} {status}: no JSON body documented")
        return
    errors = sorted(Draft202012Validator({**schema, "components": openapi["components"]}).iter_errors(response.json()),
                    key=str)
    if errors:
        seen.problems.append(f"{op.method.upper()} {op.path} {status}: {response.text[:200]} does not fit its "
                             f"document: {errors[0].message}")


def test_every_operation_documents_the_errors_it_answers_with_and_their_bodies(
    sqlite_server: LiveServer, openapi: dict[str, Any], klass: Klass, ids: dict[str, str],
    shared_sqlite_stack: Stack, make_klass: Callable[..., Klass],
) -> None:
    stranger = make_klass(shared_sqlite_stack).students[0]  # a student of another course
    operations = _operations(openapi)
    assert not {(op.method, op.path) for op in operations if "requestBody" in op.spec} - set(VALID_BODIES)
    seen = Observed()
    for op in operations:
        calls = [
            _call(sqlite_server, op, ids, {}),  # anonymous
            _call(sqlite_server, op, ids, stranger.headers),
            _call(sqlite_server, op, ids, {**klass.instructor.headers, "Content-Type": "application/json"},
                  content=b"[]") if "requestBody" in op.spec else None,
        ]
        for media_type in op.spec.get("requestBody", {}).get("content", {}):
            calls.append(_call(sqlite_server, op, ids, {**klass.instructor.headers, "Content-Type": media_type},
                               content=UNPARSABLE[media_type]))
        for name in op.params("path") + op.params("query"):
            if name.endswith("_id") and name != "question_id":
                for missing in (LARGEST_ID, LARGEST_ID + 1):
                    calls.append(_call(sqlite_server, op, {**ids, name: str(missing)}, klass.instructor.headers))
                calls.append(_call(sqlite_server, op, {**ids, name: "x"}, klass.instructor.headers))
        for response in calls:
            if response is not None:
                _check(openapi, op, response, seen)
    by_path = {(op.method, op.path): op for op in operations}
    undocumented = [f"{m.upper()} {p}: answers {sorted(statuses - by_path[m, p].documented)} undocumented"
                    for (m, p), statuses in seen.statuses.items() if statuses - by_path[m, p].documented]
    assert not undocumented, "\n".join(undocumented)
    assert not seen.problems, "\n".join(seen.problems)
    for op in operations:
        if op.secured:
            assert 401 in seen.statuses.get((op.method, op.path), set()), f"{op.path} let an anonymous call in"


def test_the_rules_every_route_documents(openapi: dict[str, Any]) -> None:
    """401 where a token is needed, 404 where an id is taken, 422 where a body or query is (and 400
    where a body is), 429 on login."""
    missing = []
    for op in _operations(openapi):
        expected = {401} if op.secured else set()
        if any(name.endswith("_id") for name in op.params("path") + op.params("query")):
            expected.add(404)
        if "requestBody" in op.spec or op.params("query"):
            expected.add(422)
        if "requestBody" in op.spec:
            expected.add(400)
        if (op.method, op.path) == LOGIN:
            expected |= {401, 429}
        if expected - op.documented:
            missing.append(f"{op.method.upper()} {op.path}: {sorted(expected - op.documented)}")
    assert not missing, "undocumented:\n" + "\n".join(missing)


def test_service_errors_fit_their_documents(
    sqlite_server: LiveServer, openapi: dict[str, Any], klass: Klass, ids: dict[str, str]
) -> None:
    """The statuses the services choose: a 422 with one message, 409, 415, a wrong password's 401."""
    ops = {(op.method, op.path): op for op in _operations(openapi)}
    prof = klass.instructor.headers
    cases = [
        (("put", "/api/submissions/{submission_id}/manual-grades/{question_id}"), prof, {"json": {"score": 9}}, 422),
        (("post", "/api/assignments/{assignment_id}/regrades"), prof,
         {"json": {"since": "2999-01-01T00:00:00Z"}}, 409),
        (("post", "/api/assignments/{assignment_id}/similarity"), prof, {"json": {"threshold": 2}}, 422),
        (("post", "/api/assignments/{assignment_id}/submissions"), klass.students[1].headers,
         {"files": {"file": ("notes.txt", b"hello")}}, 415),
        (LOGIN, {}, {"json": {"email": klass.students[0].email, "password": "guess"}}, 401),
        (("patch", "/api/assignments/{assignment_id}"), prof, {"json": {"late_credit": "2d=eighty"}}, 422),
        (("put", "/api/assignments/{assignment_id}/extensions/{user_id}"), prof,
         {"json": {"due_at": "2000-01-01T00:00:00Z"}}, 422),
        (("post", "/api/submissions/{submission_id}/choose"), prof, {}, 409),
    ]
    seen = Observed()
    for key, headers, request, status in cases:
        response = _call(sqlite_server, ops[key], ids, headers, **request)
        assert response.status_code == status, response.text
        assert isinstance(response.json()["detail"], str)
        assert str(status) in ops[key].spec["responses"], f"{key} does not document {status}"
        _check(openapi, ops[key], response, seen)
    assert not seen.problems, "\n".join(seen.problems)
