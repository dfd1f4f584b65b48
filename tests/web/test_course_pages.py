"""The course pages without a browser: what a student's upload form says about the limit and the
cooldown, the dashboard for instructors and TAs, the roster and settings forms and their errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx

from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE
from tests.web.support import Klass, LiveServer, PageSession, api, page_session

UPLOAD_FORM = re.compile(r'<form[^>]+action="/assignments/\d+/submissions"')


def _upload(client: PageSession, assignment_id: int) -> httpx.Response:
    token = client.csrf_token(f"/assignments/{assignment_id}")
    return client.post(f"/assignments/{assignment_id}/submissions", data={"csrf_token": token},
                       files={"file": ("hw2.py", REFERENCE)})


def test_a_lowered_limit_shows_limit_reached_and_no_upload_form(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, max_submissions=20)
    aid = klass.assignment_id
    with api(sqlite_server, klass.students[0]) as student:
        for _ in range(14):
            assert student.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}
                                ).status_code == 202
    with api(sqlite_server, klass.instructor) as prof:
        assert prof.patch(f"/assignments/{aid}", json={"max_submissions": 3}).status_code == 200
    with page_session(sqlite_server, klass.students[0]) as client:
        page = client.get(f"/assignments/{aid}").text
        assert "limit reached" in page and "14 submissions made, the limit is 3" in page
        assert not re.search(r"-?\d+ of 3 submissions", page)  # neither "14 of 3 used" nor "-11 of 3 left"
        assert not UPLOAD_FORM.search(page)
        assert "You have used all 3 submissions" in page
        token = client.csrf_token("/")
        refused = client.post(f"/assignments/{aid}/submissions", data={"csrf_token": token},
                              files={"file": ("hw2.py", REFERENCE)})
        assert refused.status_code == 429 and "you have used all 3 submissions" in refused.text
    with page_session(sqlite_server, klass.students[1]) as other:
        page = other.get(f"/assignments/{aid}").text
        assert "3 of 3 submissions left" in page and UPLOAD_FORM.search(page)


def test_the_cooldown_disables_the_form_and_a_second_upload_gets_429_with_retry_after(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, cooldown_s=900)
    aid = klass.assignment_id
    with page_session(sqlite_server, klass.students[0]) as client:
        assert "one submission every 15 minutes" in client.get(f"/assignments/{aid}").text
        assert _upload(client, aid).status_code == 303
        page = client.get(f"/assignments/{aid}").text
        assert "You can submit again at" in page and re.search(r'<button type="submit" disabled>', page)
        assert 'http-equiv="refresh" content="9' in page  # reloads when the cooldown ends (about 900 s)
        token = client.csrf_token("/")
        again = client.post(f"/assignments/{aid}/submissions", data={"csrf_token": token},
                            files={"file": ("hw2.py", REFERENCE)})
    assert again.status_code == 429
    assert 890 <= int(again.headers["retry-after"]) <= 900
    assert "please wait 15 minutes before submitting again" in again.text


def test_a_ta_sees_the_dashboard_without_the_forms_that_change_the_course(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    dashboard = f"/courses/{klass.course_id}"
    with page_session(sqlite_server, klass.ta) as ta:
        page = ta.get(dashboard)
        assert page.status_code == 200
        assert klass.students[0].email in page.text and "Students submitted" in page.text
        for form in ("Import a roster", "Enrol one person", "Archive", "New assignment", "/settings"):
            assert form not in page.text, form
        assert f"/assignments/{klass.assignment_id}/scores" in page.text
        assert ta.get(f"/assignments/{klass.assignment_id}/settings").status_code == 403
        token = ta.csrf_token(dashboard)
        refused = ta.post(f"{dashboard}/archive", data={"csrf_token": token})
        assert refused.status_code == 403 and "only instructors of" in refused.text
        assert ta.post(f"{dashboard}/reopen", data={"csrf_token": token}).status_code == 403
    with page_session(sqlite_server, klass.students[0]) as student:
        assert student.get(dashboard).status_code == 403


def test_an_instructor_archives_the_course_and_reopens_it(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    dashboard = f"/courses/{klass.course_id}"
    with page_session(sqlite_server, klass.instructor) as prof:
        archived = prof.post(f"{dashboard}/archive", data={"csrf_token": prof.csrf_token(dashboard)})
        assert archived.status_code == 303
        page = prof.get(dashboard)
        assert "This course is archived" in page.text and f"Reopen {klass.course_code}" in page.text
        reopened = prof.post(f"{dashboard}/reopen", data={"csrf_token": prof.csrf_token(dashboard)})
        assert reopened.status_code == 303 and reopened.headers["location"] == f"{dashboard}#settings"
        page = prof.get(dashboard)
        assert f"{klass.course_code} is open again" in page.text and f"Archive {klass.course_code}" in page.text


def test_an_instructor_imports_pages_through_and_fixes_the_roster(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    tag = uuid.uuid4().hex[:8]
    dashboard = f"/courses/{klass.course_id}"
    csv = "email,name,role\n" + "".join(f"s{i:03d}-{tag}@uni.edu,Student {i:03d},\n" for i in range(120))
    with page_session(sqlite_server, klass.instructor) as prof:
        token = prof.csrf_token(dashboard)
        bad = prof.post(f"{dashboard}/roster", data={"csrf_token": token},
                        files={"file": ("roster.csv", b"email,name,role\nok@uni.edu,Ok,boss\n")})
        assert bad.status_code == 422 and "line 2: the role is one of student, ta, instructor" in bad.text
        done = prof.post(f"{dashboard}/roster", data={"csrf_token": token},
                         files={"file": ("roster.csv", csv.encode())})
        assert done.status_code == 303
        page = prof.get(dashboard).text
        assert "Roster imported: 120 enrolled, 0 changed, 0 unchanged; 120 new accounts." in page
        assert "124 people" in page and "page 1 of 3" in page
        assert "Roster imported" not in prof.get(dashboard).text  # shown once
        last = prof.get(dashboard, params={"page": 3}).text
        assert f"s119-{tag}@uni.edu" in last and f"s000-{tag}@uni.edu" not in last
        found = prof.get(dashboard, params={"search": f"s042-{tag}"}).text
        assert "1 person" in found and f"s042-{tag}@uni.edu" in found

        student_id = re.search(rf'data-email="s042-{tag}@uni.edu">.*?/enrolments/(\d+)/drop', found, re.S)
        assert student_id
        assert prof.post(f"{dashboard}/enrolments/{student_id.group(1)}/drop",
                         data={"csrf_token": token, "confirm": "yes"}).status_code == 303
        assert "123 people" in prof.get(dashboard).text

        settings = f"/assignments/{klass.assignment_id}/settings"
        form = {"csrf_token": token, "title": "HW2", "due_at": "2030-01-01T12:00", "max_submissions": "3",
                "cooldown_s": "60", "release_at": "2029-12-31T00:00", "late_credit": "48h=80", "late_after": "reject",
                "counts": "best"}
        early = prof.post(settings, data=form)
        assert early.status_code == 422 and "cannot be released before the due date" in early.text
        saved = prof.post(settings, data={**form, "release_at": ""})
        assert saved.status_code == 303
        row = re.search(r'<tr data-assignment="hw2">.*?</tr>', prof.get(dashboard).text, re.S)
        assert row and "2030-01-01 12:00 UTC" in row.group(0) and "1 minute" in row.group(0)
        shown = prof.get(settings).text
        assert 'value="2030-01-01T12:00"' in shown and 'value="2d=80"' in shown
        assert '<option value="reject" selected>' in shown and '<option value="best" selected>' in shown


def test_drop_acts_only_with_its_yes_box_ticked(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    """A drop forgets the student's Canvas ids and section, so one click on a roster row must not do it."""
    klass = make_klass(shared_sqlite_stack)
    dashboard, [alice, bob] = f"/courses/{klass.course_id}", klass.students
    ids = {}
    for person in (alice, bob):
        with api(sqlite_server, person) as client:
            ids[person.email] = client.get("/auth/me").json()["id"]
    with page_session(sqlite_server, klass.ta) as ta:  # TAs are refused as before, not asked to confirm
        assert ta.post(f"{dashboard}/enrolments/{ids[bob.email]}/drop",
                       data={"csrf_token": ta.csrf_token(dashboard)}).status_code == 403
    with page_session(sqlite_server, klass.instructor) as prof:
        drop = f"{dashboard}/enrolments/{ids[alice.email]}/drop"
        form = re.search(rf'<form[^>]+action="{drop}">.*?</form>', prof.get(dashboard).text, re.S)
        assert form and re.search(r'<input type="checkbox" name="confirm" value="yes" required', form.group(0))
        token = prof.csrf_token(dashboard)
        refused = prof.post(drop, data={"csrf_token": token})
        assert refused.status_code == 422
        assert "Not dropped: tick “yes, drop” beside the Drop button to confirm" in refused.text
        assert f'action="{drop}"' in refused.text  # the form again
        assert f'data-email="{alice.email}"' in prof.get(dashboard).text
        assert prof.post(drop, data={"csrf_token": token, "confirm": "yes"}).status_code == 303
        assert f'data-email="{alice.email}"' not in prof.get(dashboard).text
