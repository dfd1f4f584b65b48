"""A course run over the API: courses, rosters, assignments and their settings; what a TA may and
may not do; the cooldown's 429 with Retry-After."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE
from tests.web.support import Klass, LiveServer, api

STUDENTS = 120


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack)


def _upload(client: httpx.Client, assignment_id: int) -> httpx.Response:
    return client.post(f"/assignments/{assignment_id}/submissions", files={"file": ("hw2.py", REFERENCE)})


def test_an_instructor_sets_up_a_course_over_the_api(sqlite_server: LiveServer, klass: Klass) -> None:
    tag = uuid.uuid4().hex[:8]
    code = f"API-{tag}"
    with api(sqlite_server, klass.instructor) as prof:
        made = prof.post("/courses", json={"code": code, "title": "Deep learning"})
        assert made.status_code == 201, made.text
        course = made.json()
        assert course["code"] == code and course["archived_at"] is None
        assert prof.post("/courses", json={"code": code, "title": "Again"}).status_code == 409
        assert {"course": course, "role": "instructor"} in prof.get("/courses").json()

        csv = "email,name,role\n" + f"ta-{tag}@uni.edu,Tara,ta\n" + "".join(
            f"s{i:03d}-{tag}@uni.edu,Student {i:03d},\n" for i in range(STUDENTS))
        url = f"/courses/{course['id']}/roster"
        imported = prof.post(url, files={"file": ("roster.csv", csv.encode())})
        assert imported.status_code == 200, imported.text
        assert imported.json() == {"accounts_created": STUDENTS + 1, "enrolled": STUDENTS + 1, "changed": 0,
                                   "unchanged": 0, "skipped": []}
        again = prof.post(url, files={"file": ("roster.csv", csv.encode())}).json()
        assert (again["enrolled"], again["unchanged"]) == (0, STUDENTS + 1)
        canvas = f'Student,ID,SIS User ID,SIS Login ID,Section\n"Lovelace, Ada",4711,S1,ada-{tag},A\n'
        with_domain = prof.post(url, files={"file": ("canvas.csv", canvas.encode())}, data={"login_domain": "uni.edu"})
        assert with_domain.json()["enrolled"] == 1
        bad = prof.post(url, files={"file": ("bad.csv", b"email,name\nnope,No\n")})
        assert bad.status_code == 422 and "line 2: 'nope' is not an email address" in bad.json()["detail"]

        page = prof.get(url, params={"offset": 50, "limit": 50}).json()
        assert page["total"] == STUDENTS + 3 and len(page["enrolments"]) == 50
        ada = prof.get(url, params={"search": "lovelace"}).json()["enrolments"]
        assert [(e["user"]["email"], e["canvas_id"], e["section"]) for e in ada] == [
            (f"ada-{tag}@uni.edu", "4711", "A")]
        assert prof.get(url, params={"limit": 501}).status_code == 422

        one = prof.post(f"/courses/{course['id']}/enrolments", json={"email": f"late-{tag}@uni.edu", "role": "ta"})
        assert one.status_code == 200 and one.json()["role"] == "ta"
        dropped = prof.delete(f"/courses/{course['id']}/enrolments/{one.json()['user']['id']}")
        assert dropped.status_code == 204
        assert prof.delete(f"/courses/{course['id']}/enrolments/{one.json()['user']['id']}").status_code == 404

        body = {"slug": "hw2", "rubric_id": "hw2", "due_at": "2030-01-01T12:00:00+02:00", "max_submissions": 3,
                "cooldown_s": 120}
        created = prof.post(f"/courses/{course['id']}/assignments", json=body)
        assert created.status_code == 201, created.text
        assignment = created.json()
        assert assignment["due_at"].startswith("2030-01-01T10:00:00") and assignment["cooldown_s"] == 120
        assert assignment["title"].startswith("HW2")
        assert prof.post(f"/courses/{course['id']}/assignments", json=body).status_code == 409
        escape = prof.post(f"/courses/{course['id']}/assignments", json={**body, "slug": "x", "rubric_id": "../hw2"})
        assert escape.status_code == 422

        edited = prof.patch(f"/assignments/{assignment['id']}", json={"max_submissions": None, "title": "HW2"})
        assert edited.status_code == 200, edited.text
        changed = edited.json()
        assert (changed["max_submissions"], changed["title"], changed["cooldown_s"]) == (None, "HW2", 120)
        assert prof.patch(f"/assignments/{assignment['id']}", json={"release_at": "2029-12-31T00:00:00Z"}
                          ).status_code == 422
        progress = prof.get(f"/courses/{course['id']}/progress").json()
        assert [(p["assignment"]["slug"], p["submissions"]) for p in progress] == [("hw2", 0)]

        archived = prof.post(f"/courses/{course['id']}/archive")
        assert archived.status_code == 200 and archived.json()["archived_at"] is not None
        late = prof.post(f"/courses/{course['id']}/enrolments", json={"email": f"x-{tag}@uni.edu"})
        assert late.status_code == 409 and "archived" in late.json()["detail"]
        reopened = prof.post(f"/courses/{course['id']}/reopen")
        assert reopened.status_code == 200 and reopened.json()["archived_at"] is None
        again = prof.post(f"/courses/{course['id']}/enrolments", json={"email": f"x-{tag}@uni.edu"})
        assert again.status_code == 200, again.text


def test_students_create_no_course_and_see_no_roster(sqlite_server: LiveServer, klass: Klass) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        refused = student.post("/courses", json={"code": f"S-{uuid.uuid4().hex[:8]}", "title": "Mine"})
        assert refused.status_code == 403 and "only instructors and admins" in refused.json()["detail"]
        assert student.get(f"/courses/{klass.course_id}/roster").status_code == 403
        assert student.get(f"/courses/{klass.course_id}/progress").status_code == 403
        assert [m["role"] for m in student.get("/courses").json()] == ["student"]


def test_a_ta_grades_and_regrades_but_changes_no_setting(sqlite_server: LiveServer, klass: Klass) -> None:
    aid = klass.assignment_id
    with api(sqlite_server, klass.students[0]) as student:
        sid = _upload(student, aid).json()
    with api(sqlite_server, klass.ta) as ta:
        graded = ta.put(f"/submissions/{sid['id']}/manual-grades/1.2.1a", json={"score": 3, "comment": "ok"})
        assert graded.status_code == 200, graded.text
        regrade = ta.post(f"/assignments/{aid}/regrades", json={"reason": "TA", "submission_ids": [sid["id"]]})
        assert regrade.status_code == 202, regrade.text
        assert ta.get(f"/regrades/{regrade.json()['id']}").status_code == 200
        assert ta.get(f"/assignments/{aid}/gradebook").status_code == 200
        assert ta.get(f"/assignments/{aid}/gradebook.csv").status_code == 200
        assert ta.get(f"/courses/{klass.course_id}/roster").json()["total"] == 4
        assert [s["id"] for s in ta.get("/submissions", params={"assignment_id": aid}).json()] == [sid["id"]]
        detail = ta.get(f"/submissions/{sid['id']}").json()
        assert "1.2.3d" in {q["question_id"] for q in detail["feedback"]["questions"]}  # hidden from students

        for refused in (
            ta.patch(f"/assignments/{aid}", json={"max_submissions": 1}),
            ta.post(f"/courses/{klass.course_id}/assignments", json={"slug": "hw3", "rubric_id": "hw2"}),
            ta.post(f"/courses/{klass.course_id}/enrolments", json={"email": "friend@uni.edu", "role": "ta"}),
            ta.post(f"/courses/{klass.course_id}/roster", files={"file": ("r.csv", b"email\nfriend@uni.edu\n")}),
            ta.post(f"/courses/{klass.course_id}/archive"),
        ):
            assert refused.status_code == 403, refused.request.url
            assert refused.json()["detail"] == (f"only instructors of {klass.course_code} can change its roster, "
                                                "assignments or settings")


def test_the_cooldown_answers_429_with_retry_after(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, cooldown_s=900, max_submissions=5)
    aid = klass.assignment_id
    with api(sqlite_server, klass.students[0]) as student:
        assert _upload(student, aid).status_code == 202
        again = _upload(student, aid)
        assert again.status_code == 429
        assert 890 <= int(again.headers["retry-after"]) <= 900
        assert "please wait 15 minutes before submitting again" in again.json()["detail"]
        allowance = student.get(f"/assignments/{aid}/allowance").json()
    assert (allowance["used"], allowance["left"], allowance["limit_reached"]) == (1, 4, False)
    assert 0 < allowance["wait_s"] <= 900 and allowance["next_at"] is not None
