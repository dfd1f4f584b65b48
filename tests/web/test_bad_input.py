"""Bad input is a 4xx with a message, never a 5xx: every route and page walked with ids the
database cannot hold, malformed notebooks, text with NUL, times without a UTC equivalent.
On PostgreSQL + Redis and on the SQLite defaults (each refuses different numbers)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from grader.api.main import create_app
from grader.db.session import session_scope
from grader.services import submissions
from grader.services.errors import Rejected
from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE, make_class
from tests.web.support import PASSWORD, Klass, LiveServer, PageSession, api, http_client, page_session, tls_context

# Past PostgreSQL's INTEGER, past SQLite's, past 64 bits; negative; a digit str.isdigit() accepts
# and int() does not.
BAD_IDS = [2**31, 2**63, 2**64, -1, "²"]
NOT_DATABASE_IDS = {"question_id", "rubric_id"}  # names: a rubric's question ("1.1a"), a rubric folder ("hw2")

MALFORMED_NOTEBOOKS = [
    pytest.param(b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="nested-too-deep"),
    pytest.param(b'{"nbformat": ' + b"9" * 5_000 + b', "cells": []}', id="integer-too-long"),
    pytest.param(json.dumps({"cells": [{"cell_type": "code", "source": [1, 2]}]}).encode(), id="source-not-text"),
]


@dataclass
class Site:
    """A live server with a class on it: the instructor's clients (by token, and logged in to the
    pages; both from the server's root) and a real id of each kind, so one bad id at a time
    reaches the database."""

    server: LiveServer
    klass: Klass
    api: httpx.Client
    pages: httpx.Client
    csrf: str
    ids: dict[str, int]

    def client(self, path: str) -> httpx.Client:
        return self.api if path.startswith("/api/") else self.pages


STACKS = {"sqlite": ("shared_sqlite_stack", "sqlite_server"), "postgres": ("postgres_stack", "postgres_server_app")}


@pytest.fixture(params=list(STACKS))
def site(request: pytest.FixtureRequest, make_klass: Callable[..., Klass]) -> Iterator[Site]:
    stack_name, server_name = STACKS[request.param]
    stack: Stack = request.getfixturevalue(stack_name)
    server: LiveServer = request.getfixturevalue(server_name)
    klass = make_klass(stack)
    aid = klass.assignment_id
    with api(server, klass.students[0]) as student:
        sid = student.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        uid = student.get("/auth/me").json()["id"]
    with http_client(server.url, headers=klass.instructor.headers) as prof, \
            page_session(server, klass.instructor) as pages:
        bid = prof.post(f"/api/assignments/{aid}/regrades", json={"submission_ids": [sid]}).json()["id"]
        csrf = pages.csrf_token(f"/assignments/{aid}/scores")
        yield Site(server, klass, prof, pages, csrf, {"assignment_id": aid, "submission_id": sid, "batch_id": bid,
                                                      "course_id": klass.course_id, "user_id": uid})


def _is_database_id(name: str) -> bool:
    return name.endswith(("_id", "_ids")) and name not in NOT_DATABASE_IDS


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # the route's template
    where: str  # path, query, json or form
    name: str


def _probes(wanted: Callable[[str], bool] = _is_database_id) -> list[Probe]:
    """Every id (or other parameter `wanted` names) a route or page takes, wherever it takes it,
    from the app's own routes."""
    probes = []
    for route in iter_route_contexts(create_app().routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        dependant = route.dependant
        for method in sorted(route.methods):
            named = [("path", p.name) for p in dependant.path_params]
            named += [("query", p.name) for p in dependant.query_params]
            for body in dependant.body_params:
                model = body.field_info.annotation
                if isinstance(model, type) and issubclass(model, BaseModel):
                    named += [("json", field) for field in model.model_fields]
                else:
                    named.append(("form", body.name))
            probes += [Probe(method, route.path, where, name) for where, name in named if wanted(name)]
    return probes


def _send(site: Site, probe: Probe, bad: object) -> httpx.Response:
    real = {name: str(value) for name, value in site.ids.items()}
    values = {**real, probe.name: str(bad)} if probe.where == "path" else real
    path = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "1.2.1a"), probe.path)
    form: dict[str, object] = {"csrf_token": site.csrf} if not path.startswith("/api/") else {}
    request: dict[str, object] = {}
    if probe.where == "query":
        request["params"] = {probe.name: str(bad)}
    elif probe.where == "json":
        request["json"] = {probe.name: [bad] if probe.name.endswith("_ids") else bad}
    elif probe.where == "form":
        form[probe.name] = str(bad)
    if form:
        request["data"] = form
    if path.endswith("/submissions") and probe.method == "POST":
        request["files"] = {"file": ("hw2.py", REFERENCE)}
    return site.client(path).request(probe.method, path, **request)  # type: ignore[arg-type]


def test_the_walk_covers_every_kind_of_id(shared_sqlite_stack: Stack, use_stack: Callable[[Stack], None]) -> None:
    """The walk below finds ids in paths, queries, JSON bodies and forms, of the API and the pages."""
    use_stack(shared_sqlite_stack)
    found = {(p.where, p.path.startswith("/api/")) for p in _probes()}
    assert found == {("path", True), ("path", False), ("query", True), ("json", True), ("form", False)}


def test_no_route_or_page_answers_an_id_out_of_range_with_a_5xx(site: Site) -> None:
    """In a path an id the database cannot hold names nothing (404); in a query or body it is 422."""
    wrong = []
    for probe in _probes():
        for bad in BAD_IDS:
            response = _send(site, probe, bad)
            if probe.where == "path":
                answered = response.status_code == 404 and f"no {probe.name.removesuffix('_id')} {bad}" in response.text
            else:
                answered = response.status_code == 422
            if not answered:
                wrong.append(f"{probe.method} {probe.path} {probe.where} {probe.name}={bad!r}: "
                             f"{response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


# An invitation link's token is hashed before it is looked up, and a dead one counts against the
# address's logins on the shared server.
NOT_LOOKED_UP = {"token"}


def test_a_nul_in_a_path_names_nothing(site: Site) -> None:
    """PostgreSQL cannot even look such text up: 404 for every text a path carries, on either database."""
    probes = [probe for probe in _probes(lambda name: not _is_database_id(name) and name not in NOT_LOOKED_UP)
              if probe.where == "path"]
    assert {(probe.method, probe.name) for probe in probes} == {("PUT", "question_id"), ("DELETE", "question_id")}
    wrong = []
    for probe in probes:
        response = _send(site, probe, "1.2.1a%00")
        missing = f"no {probe.name.removesuffix('_id')} 1.2.1a\0"
        if response.status_code != 404 or response.json() != {"detail": missing}:
            wrong.append(f"{probe.method} {probe.path}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_an_out_of_range_id_in_a_path_says_what_is_missing(site: Site) -> None:
    response = site.api.get(f"/api/submissions/{2**63}")
    assert response.status_code == 404 and response.json() == {"detail": f"no submission {2**63}"}
    page = site.pages.get(f"/assignments/{2**31}/scores")
    assert page.status_code == 404 and f"no assignment {2**31}" in page.text


@pytest.mark.parametrize("notebook", MALFORMED_NOTEBOOKS)
def test_a_malformed_notebook_is_422_with_a_message_and_not_stored(site: Site, notebook: bytes) -> None:
    aid = site.klass.assignment_id
    with api(site.server, site.klass.students[1]) as student:
        response = student.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.ipynb", notebook)})
        assert response.status_code == 422, response.text[:300]
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]
        assert student.get("/submissions").json() == []


@pytest.mark.parametrize("notebook", MALFORMED_NOTEBOOKS)
def test_a_malformed_notebook_through_the_form_shows_why_on_the_page(site: Site, notebook: bytes) -> None:
    aid = site.klass.assignment_id
    with page_session(site.server, site.klass.students[1]) as browser:
        token = browser.csrf_token(f"/assignments/{aid}")
        page = browser.post(f"/assignments/{aid}/submissions", data={"csrf_token": token},
                            files={"file": ("hw2.ipynb", notebook)})
    assert page.status_code == 422
    assert 'class="error" role="alert"' in page.text and "Nothing submitted yet" in page.text
    assert "Traceback" not in page.text


def test_an_upload_named_with_control_characters_is_kept_under_a_printable_name(site: Site) -> None:
    """A browser never sends a NUL in a filename; a script can, and PostgreSQL cannot store it."""
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="hw\x00\xe2\x80\xae2.py"\r\n\r\n'
            + REFERENCE + b"\r\n--b--\r\n")
    with api(site.server, site.klass.students[1]) as student:
        response = student.post(f"/assignments/{site.klass.assignment_id}/submissions", content=body,
                                headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert response.status_code == 202, response.text[:300]
        assert student.get(f"/submissions/{response.json()['id']}").json()["submission"]["filename"] == "hw2.py"


def test_a_reader_failure_nobody_foresaw_is_still_a_422(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever turning the upload into source raises, it is about the upload: refused, not stored."""
    use_stack(sqlite_stack)

    def unforeseen(filename: str, data: bytes) -> str:
        raise IndexError("a case the notebook reader does not handle")

    monkeypatch.setattr(submissions, "prepare_source", unforeseen)
    with session_scope() as db:
        klass = make_class(db)
        with pytest.raises(Rejected) as refused:
            submissions.submit(db, klass.students[0], klass.assignment, "hw2.ipynb", b"{}")
        db.rollback()
        assert refused.value.status_code == 422 and "a case the notebook reader" in refused.value.message
        assert submissions.submissions_of(db, klass.students[0]) == []


JSON_BODIES = [
    pytest.param("PUT", "/submissions/{submission_id}/manual-grades/1.2.1a", {"score": 1, "comment": "a\0b"},
                 "comment", id="nul-in-a-comment"),
    pytest.param("POST", "/assignments/{assignment_id}/regrades", {"reason": "a\0b"}, "reason", id="nul-in-a-reason"),
    pytest.param("POST", "/auth/token", {"email": "a\0b@x.test", "password": "p"}, "email", id="nul-in-an-email"),
    pytest.param("POST", "/assignments/{assignment_id}/regrades", {"since": "0001-01-01T00:00:00+14:00"}, "since",
                 id="before-year-1-in-utc"),
    pytest.param("POST", "/assignments/{assignment_id}/regrades", {"since": "9999-12-31T23:59:59-14:00"}, "since",
                 id="after-year-9999-in-utc"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), JSON_BODIES)
def test_values_the_database_cannot_hold_are_422(site: Site, method: str, path: str, body: dict, field: str) -> None:
    response = site.api.request(method, "/api" + path.format(**site.ids), json=body)
    assert response.status_code == 422, response.text[:300]
    assert [issue["loc"] for issue in response.json()["detail"]] == [["body", field]]


@pytest.mark.parametrize("score", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"false", b'"3"'])
def test_a_score_that_is_not_a_finite_number_is_422(site: Site, score: bytes) -> None:
    """JSON cannot even carry NaN back: the 422 names the field and does not echo the input."""
    response = site.api.put(f"/api/submissions/{site.ids['submission_id']}/manual-grades/1.2.1a",
                            content=b'{"score": ' + score + b"}", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    [issue] = response.json()["detail"]
    assert issue["loc"] == ["body", "score"] and set(issue) == {"loc", "msg", "type"}


@pytest.mark.parametrize(("path", "form"), [
    ("/assignments/{assignment_id}/regrades", {"reason": "a\0b"}),
    ("/submissions/{submission_id}/regrade", {"reason": "a\0b"}),
    ("/submissions/{submission_id}/manual-grades", {"question_id": "1.2.1a", "score": "1", "comment": "a\0b"}),
    ("/submissions/{submission_id}/manual-grades", {"question_id": "1.2.1a", "score": "nan"}),
    ("/submissions/{submission_id}/manual-grades/remove", {"question_id": "1.2.1a\0", "confirm": "yes"}),
])
def test_page_forms_refuse_what_the_database_cannot_hold_with_an_error_page(site: Site, path: str, form: dict) -> None:
    page = site.pages.post(path.format(**site.ids), data={"csrf_token": site.csrf, **form})
    assert page.status_code == 422 and '<p class="error">' in page.text


# Year 1 at +14:00 is still year 0 in UTC, and year 9999 at -14:00 already year 10000.
NO_UTC_EQUIVALENT = ["0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"]
PAGE_DATES = [  # the form, the other fields it needs, its date field and the label its refusal names
    ("/assignments/{assignment_id}/regrades", {}, "since", "since"),
    ("/assignments/{assignment_id}/settings", {"title": "HW2"}, "due_at", "due date"),
    ("/assignments/{assignment_id}/settings", {"title": "HW2"}, "release_at", "release of after-due-date details"),
    ("/assignments/{assignment_id}/extensions", {"student_id": "{user_id}"}, "until", "new due date"),
    ("/courses/{course_id}/assignments", {"slug": "hw9", "rubric_id": "hw2"}, "due_at", "due date"),
]


def test_page_dates_without_a_utc_equivalent_are_refused_by_name(site: Site) -> None:
    """A scripted post can name such a moment (a browser's datetime-local field cannot): 422, as the API answers."""
    wrong = []
    for path, fields, field, label in PAGE_DATES:
        for moment in NO_UTC_EQUIVALENT:
            form = {name: value.format(**site.ids) for name, value in {**fields, field: moment}.items()}
            page = site.pages.post(path.format(**site.ids), data={"csrf_token": site.csrf, **form})
            if page.status_code != 422 or f"{label}: {moment!r} has no UTC equivalent" not in html.unescape(page.text):
                wrong.append(f"{path} {field}={moment}: {page.status_code} {page.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_a_regrade_listing_more_than_ten_thousand_submissions_is_422(site: Site) -> None:
    """More would near PostgreSQL's 65,535 parameters of a query, past them at 65,536."""
    path = f"/assignments/{site.ids['assignment_id']}/regrades"
    response = site.api.post("/api" + path, json={"submission_ids": list(range(1, 70_001))})
    assert response.status_code == 422, response.text[:300]
    assert [issue["loc"] for issue in response.json()["detail"]] == [["body", "submission_ids"]]
    page = site.pages.post(path, data={"csrf_token": site.csrf, "submission_ids": " ".join(map(str, range(1, 10_002)))})
    assert page.status_code == 422 and "a regrade lists at most 10,000 submissions, not 10,001" in page.text


def _log_in(site: Site, **form: str) -> httpx.Response:
    """The login page's form, posted from a browser that is not logged in."""
    with PageSession(base_url=site.server.url, timeout=30, verify=tls_context()) as browser:
        return browser.post("/login", data={"csrf_token": browser.csrf_token("/login"), **form})


def test_a_nul_in_the_login_pages_email_is_a_wrong_email(site: Site) -> None:
    """No account has it (PostgreSQL cannot even look it up): the login page again, with what was typed."""
    typed = site.klass.students[0].email + "\0"
    page = _log_in(site, email=typed, password=PASSWORD)
    assert page.status_code == 401 and "Wrong email or password." in page.text
    assert f'name="email" type="email" value="{typed}"' in page.text


# What a JSON "\ud800" decodes to, and a form field in charset=unicode_escape: text that UTF-8
# cannot encode, so it can be neither hashed, stored nor shown.
LONE_SURROGATE = "x\ud800"
LOGIN_PAGE_FIELDS = {"email", "password"}  # checked by the login page itself, which answers with itself


def _body_fields(dependant: Dependant) -> Iterator[tuple[str, FieldInfo]]:
    """Every field of a route's JSON body or form, its dependencies' included."""
    for body in dependant.body_params:
        model = body.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            yield from model.model_fields.items()
        else:
            yield body.name, body.field_info
    for dependency in dependant.dependencies:
        yield from _body_fields(dependency)


def _takes(field: FieldInfo, value: object) -> bool:
    try:
        TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
    except ValidationError:
        return False
    return True


def test_every_text_field_of_a_body_or_a_form_refuses_a_lone_surrogate(
    shared_sqlite_stack: Stack, use_stack: Callable[[Stack], None]
) -> None:
    """Refused by the field's type, so no route or page ever holds such text (422, not a 500)."""
    use_stack(shared_sqlite_stack)
    taken = []
    for route in iter_route_contexts(create_app().routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        for name, field in _body_fields(route.dependant):
            if route.path == "/login" and name in LOGIN_PAGE_FIELDS:
                continue
            taken += [f"{route.path} {name}={value!r}" for value in (LONE_SURROGATE, [LONE_SURROGATE])
                      if _takes(field, value)]
    assert not taken, "\n".join(taken)


@pytest.mark.parametrize("body", [b'{"email": "EMAIL", "password": "x\\ud800"}',
                                  b'{"email": "x\\ud800EMAIL", "password": "x"}'], ids=["password", "email"])
def test_a_lone_surrogate_in_an_api_login_is_422(site: Site, body: bytes) -> None:
    body = body.replace(b"EMAIL", site.klass.students[0].email.encode())
    with api(site.server) as anonymous:
        response = anonymous.post("/auth/token", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text[:300]


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_lone_surrogate_in_the_login_page_is_a_wrong_login(site: Site, field: str) -> None:
    """A form in charset=unicode_escape carries it: the login page again, as for any wrong login."""
    typed = {"email": site.klass.students[0].email, "password": PASSWORD, field: "x\\ud800"}
    with PageSession(base_url=site.server.url, timeout=30, verify=tls_context()) as browser:
        token = browser.csrf_token("/login")
        parts = [f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                 for name, value in {**typed, "csrf_token": token}.items()]
        page = browser.post("/login", content=("".join(parts) + "--b--\r\n").encode(),
                            headers={"Content-Type": "multipart/form-data; boundary=b; charset=unicode_escape"})
    assert page.status_code == 401 and "Wrong email or password." in page.text, page.text[:300]
