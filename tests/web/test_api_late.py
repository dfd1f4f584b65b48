"""Late work over the API on a live server and a real worker: late rules, extensions, grace days,
the submission a student marks, and the gradebook's late columns in JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from grader.db.base import MAX_ID
from grader.db.models import Assignment, Enrolment
from grader.db.session import session_scope
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE
from tests.web.support import Klass, LiveServer, Person, api, upload_and_wait

LATE_BY = timedelta(hours=36)


def _row(client: httpx.Client, assignment_id: int, email: str) -> dict[str, Any]:
    book = client.get(f"/assignments/{assignment_id}/gradebook")
    assert book.status_code == 200, book.text
    return next(row for row in book.json()["rows"] if row["student"]["email"] == email)


def test_late_rules_extensions_grace_days_and_choices_over_the_api(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess,
    make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(shared_sqlite_stack, due_at=datetime.now(UTC) - LATE_BY)
    aid, student = klass.assignment_id, klass.students[0]
    with api(sqlite_server, student) as client, api(sqlite_server, klass.instructor) as prof:
        me = client.get("/auth/me").json()["id"]
        course_id = client.get(f"/assignments/{aid}").json()["course_id"]
        sid = upload_and_wait(sqlite_server, student, aid, REFERENCE)
        assert client.patch(f"/assignments/{aid}", json={"counts": "best"}).status_code == 403
        assert client.put(f"/assignments/{aid}/extensions/{me}", json={"due_at": "2999-01-01T00:00:00Z"}
                          ).status_code == 403

        row = _row(prof, aid, student.email)
        raw = row["total"]
        assert raw > 0 and row["credit_percent"] == 100 and row["credited_total"] == raw
        assert LATE_BY.total_seconds() <= row["late_by_s"] < LATE_BY.total_seconds() + 300

        edited = prof.patch(f"/assignments/{aid}", json={"late_credit": "48h=80, 7d=50"})
        assert edited.status_code == 200, edited.text
        assert {k: edited.json()[k] for k in ("late_credit", "late_after", "counts", "late_policy")} == {
            "late_credit": "2d=80,7d=50", "late_after": "zero", "counts": "last", "late_policy": "none"}
        row = _row(prof, aid, student.email)
        assert (row["total"], row["credit_percent"], row["credited_total"]) == (raw, 80, round(raw * 0.8, 4))
        refused = prof.patch(f"/assignments/{aid}", json={"late_after": "full"})
        assert refused.status_code == 422 and "zero or reject" in refused.json()["detail"]

        until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        granted = prof.put(f"/assignments/{aid}/extensions/{me}", json={"due_at": until.isoformat(), "reason": "flu"})
        assert granted.status_code == 200, granted.text
        assert granted.json()["student"]["email"] == student.email
        assert [e["reason"] for e in prof.get(f"/assignments/{aid}/extensions").json()] == ["flu"]
        row = _row(prof, aid, student.email)
        assert row["extended"] and row["late_by_s"] == 0 and row["credited_total"] == raw
        assert datetime.fromisoformat(row["due_at"]) == until
        assert prof.delete(f"/assignments/{aid}/extensions/{me}").status_code == 204
        assert prof.delete(f"/assignments/{aid}/extensions/{me}").status_code == 404
        assert _row(prof, aid, student.email)["credit_percent"] == 80

        assert client.get(f"/courses/{course_id}/grace").status_code == 403
        ledger = prof.put(f"/courses/{course_id}/grace", json={"grace_days": 2})
        assert ledger.status_code == 200, ledger.text
        assert [(e["student"]["email"], e["submission_id"], e["days"], e["left"]) for e in ledger.json()["entries"]] \
            == [(student.email, sid, 2, 0)]
        assert prof.get(f"/courses/{course_id}/grace").json() == ledger.json()
        assert _row(prof, aid, student.email)["credit_percent"] == 100
        assert prof.put(f"/courses/{course_id}/grace", json={"grace_days": -1}).status_code == 422

        assert prof.patch(f"/assignments/{aid}", json={"counts": "chosen"}).json()["counts"] == "chosen"
        chosen = client.post(f"/submissions/{sid}/choose")
        assert chosen.status_code == 200 and chosen.json()["submission_id"] == sid
        feedback = client.get(f"/submissions/{sid}").json()["feedback"]
        assert feedback["counts"] and feedback["late"] and feedback["grace_days"] == 2


def _answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def _id(server: LiveServer, person: Person) -> int:
    with api(server, person) as client:
        return int(client.get("/auth/me").json()["id"])


def test_extensions_for_someone_who_is_not_a_student_of_the_course_do_not_say_who_they_are(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass],
) -> None:
    """Any id can be put in the path: one that is not a student here is a 404 that names no one
    (people of other courses, staff, admins), and only after the caller may change extensions."""
    klass, other = make_klass(shared_sqlite_stack), make_klass(shared_sqlite_stack)
    path, dropped = f"/assignments/{klass.assignment_id}/extensions", klass.students[1]
    until = {"due_at": "2999-01-01T00:00:00Z"}
    outsiders = {person.email: _id(sqlite_server, person) for person in (other.students[0], other.instructor,
                                                                         klass.ta, klass.instructor)}
    outsiders["no account"] = MAX_ID
    dropped_id = _id(sqlite_server, dropped)
    with api(sqlite_server, klass.instructor) as prof:
        def not_a_student(user_id: int) -> tuple[int, dict[str, str]]:
            return 404, {"detail": f"user {user_id} is not a student of {klass.course_code}"}

        for email, user_id in outsiders.items():
            assert _answer(prof.put(f"{path}/{user_id}", json=until)) == not_a_student(user_id), email
            assert _answer(prof.delete(f"{path}/{user_id}")) == not_a_student(user_id), email

        assert prof.put(f"{path}/{dropped_id}", json=until).status_code == 200
        assert prof.delete(f"/courses/{klass.course_id}/enrolments/{dropped_id}").status_code == 204
        assert _answer(prof.put(f"{path}/{dropped_id}", json=until)) == not_a_student(dropped_id)
        assert prof.delete(f"{path}/{dropped_id}").status_code == 204  # the extension they left is taken back
        assert _answer(prof.delete(f"{path}/{dropped_id}")) == not_a_student(dropped_id)
    with api(sqlite_server, klass.students[0]) as student:
        assert student.put(f"{path}/{MAX_ID}", json=until).status_code == 403
        assert student.delete(f"{path}/{MAX_ID}").status_code == 403


def test_the_canvas_totals_export_is_one_column_with_the_roster_ids(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(shared_sqlite_stack)
    student = klass.students[0]
    with api(sqlite_server, student) as client:
        me = client.get("/auth/me").json()["id"]
    with session_scope() as db:
        db.execute(update(Enrolment).where(Enrolment.user_id == me).values(
            canvas_id="4242", sis_user_id="S0042", sis_login_id="jdoe", section="Lab A"))
        db.commit()
    with api(sqlite_server, klass.instructor) as prof:
        totals = prof.get(f"/assignments/{klass.assignment_id}/gradebook.csv", params={"totals": "true"})
        full = prof.get(f"/assignments/{klass.assignment_id}/gradebook.csv")
        assert prof.get(f"/assignments/{klass.assignment_id}/gradebook.csv", params={"totals": "x"}).status_code == 422
    assert totals.status_code == 200 and "hw2-totals.csv" in totals.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(totals.text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW2"]
    assert rows[1][0].strip() == "Points Possible" and len(rows[1]) == 6
    assert [student.name, "4242", "S0042", "jdoe", "Lab A", ""] in rows
    assert [klass.students[1].email] == [row[3] for row in rows[2:] if row[1] == ""]  # no ids: the email
    header = next(csv.reader(io.StringIO(full.text)))
    assert header[-4:] == ["hw2 raw total", "hw2 late (hours)", "hw2 credit (%)", "HW2"] and len(header) == 5 + 20 + 4


def test_an_archived_course_refuses_extensions_grace_days_and_choices_as_it_refuses_rules(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass],
) -> None:
    """Each of them moves a credited score after the term: all get the late rules' 409 and reason."""
    klass = make_klass(shared_sqlite_stack, counts="chosen")
    aid, student = klass.assignment_id, klass.students[0]
    with api(sqlite_server, student) as client, api(sqlite_server, klass.instructor) as prof:
        me = client.get("/auth/me").json()["id"]
        sid = client.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        until = (datetime.now(UTC) + timedelta(days=9)).isoformat()
        assert prof.put(f"/assignments/{aid}/extensions/{me}", json={"due_at": until}).status_code == 200
        assert prof.post(f"/courses/{klass.course_id}/archive").status_code == 200

        rules = prof.patch(f"/assignments/{aid}", json={"late_credit": "2d=80"})
        assert rules.status_code == 409 and "archived" in rules.json()["detail"]
        for refused in (prof.put(f"/assignments/{aid}/extensions/{me}", json={"due_at": until}),
                        prof.delete(f"/assignments/{aid}/extensions/{me}"),
                        prof.put(f"/courses/{klass.course_id}/grace", json={"grace_days": 5}),
                        client.post(f"/submissions/{sid}/choose")):
            assert (refused.status_code, refused.json()) == (409, rules.json()), refused.request.url
        assert len(prof.get(f"/assignments/{aid}/extensions").json()) == 1  # still there


def test_dates_from_year_9000_are_refused_and_a_stored_one_answers_no_500(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(shared_sqlite_stack, late_credit="7d=50", late_after="reject")
    aid, student, far = klass.assignment_id, klass.students[0], "9999-12-31T00:00:00Z"
    with api(sqlite_server, student) as client, api(sqlite_server, klass.instructor) as prof:
        me = client.get("/auth/me").json()["id"]
        for refused in (prof.patch(f"/assignments/{aid}", json={"due_at": far}),
                        prof.patch(f"/assignments/{aid}", json={"release_at": far}),
                        prof.post(f"/courses/{klass.course_id}/assignments",
                                  json={"slug": "hw3", "rubric_id": "hw2", "due_at": far}),
                        prof.put(f"/assignments/{aid}/extensions/{me}", json={"due_at": far})):
            assert refused.status_code == 422 and "before 9000-01-01" in refused.json()["detail"], refused.request.url

        with session_scope() as db:  # as a database from before dates were bounded may hold it
            db.execute(update(Assignment).where(Assignment.id == aid).values(due_at=datetime(9999, 12, 31, tzinfo=UTC)))
            db.commit()
        allowed = client.get(f"/assignments/{aid}/allowance")
        assert allowed.status_code == 200 and not allowed.json()["closed"]
        uploaded = client.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)})
        assert uploaded.status_code == 202, uploaded.text
