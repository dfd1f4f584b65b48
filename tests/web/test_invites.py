"""Invitations: one-time, expiring "set your password" links for accounts a roster import made
without a password (or a reset for one student), on the real server (PostgreSQL + Redis).

The attacks come first: a link used twice, an expired or replaced link, guessed links (404 that
says nothing about the account, and throttled per client address like logins), staff other than
the course's instructors issuing links, a forged form, and an instructor taking over a TA or a
student of another course. Each client comes from an address of its own, so the shared server's throttle
counts for 127.0.0.1 are left alone.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import Invitation, User
from grader.db.session import session_scope
from grader.services import users
from tests.fixtures.services import Stack
from tests.web.support import PASSWORD, Klass, LiveServer, PageSession, api, page_session, tls_context
from tests.web.test_auth_throttle import fresh_address

NEW_PASSWORD = "a brand new passphrase"
DEAD_LINK = "This link is unknown, used or expired"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def klass(postgres_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(postgres_stack)


@pytest.fixture
def imported(postgres_server_app: LiveServer, klass: Klass) -> list[str]:
    """Three students a roster import added to the class: accounts without a password."""
    emails = [f"new{i}-{uuid.uuid4().hex[:6]}@uni.edu" for i in range(3)]
    roster = "email,name,role\n" + "".join(f"{email},New Student {i},\n" for i, email in enumerate(emails))
    with api(postgres_server_app, klass.instructor) as prof:
        done = prof.post(f"/courses/{klass.course_id}/roster", files={"file": ("roster.csv", roster.encode())})
    assert done.status_code == 200 and done.json()["accounts_created"] == 3, done.text
    return emails


def invite(server: LiveServer, klass: Klass, **body: object) -> httpx.Response:
    """POST /api/courses/{id}/invites as the class's instructor."""
    with api(server, klass.instructor) as prof:
        return prof.post(f"/courses/{klass.course_id}/invites", json=body)


def link_of(server: LiveServer, klass: Klass, email: str) -> str:
    answer = invite(server, klass, emails=[email])
    assert answer.status_code == 200, answer.text
    (issued,) = answer.json()["invites"]
    assert issued["email"] == email
    return str(issued["link"])


@contextmanager
def visitor(server: LiveServer) -> Iterator[PageSession]:
    """A browser without JavaScript, from a client address of its own."""
    transport = httpx.HTTPTransport(local_address=fresh_address(), verify=tls_context())
    with PageSession(base_url=server.url, timeout=30, verify=tls_context(), transport=transport) as client:
        yield client


def set_password(client: PageSession, link: str, password: str = NEW_PASSWORD,
                 confirmation: str | None = None, csrf: bool = True) -> httpx.Response:
    """Send the link's form, with the session's CSRF token (from the login page: a dead link has no form)."""
    data = {"password": password, "confirmation": password if confirmation is None else confirmation}
    if csrf:
        data["csrf_token"] = client.csrf_token("/login")
    return client.post(urlsplit(link).path, data=data)


def logs_in(server: LiveServer, email: str, password: str) -> bool:
    with visitor(server) as client:
        answer = client.post("/api/auth/token", json={"email": email, "password": password})
    return answer.status_code == 200


def test_a_link_sets_the_password_once_and_logs_the_student_in(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str]
) -> None:
    server, email = postgres_server_app, imported[0]
    link = link_of(server, klass, email)
    assert link.startswith(f"{server.url}/invite/")  # the server's GRADER_PUBLIC_URL
    with visitor(server) as student:
        form = student.get(urlsplit(link).path)
        assert form.status_code == 200 and email in form.text and "<form" in form.text
        assert form.headers["referrer-policy"] == "no-referrer" and "no-store" in form.headers["cache-control"]
        done = set_password(student, link)
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert "New Student 0" in student.get("/").text  # logged in as the student
        again = set_password(student, link, "another passphrase!")
        assert again.status_code == 404 and DEAD_LINK in again.text
        assert student.get(urlsplit(link).path).status_code == 404
    assert logs_in(server, email, NEW_PASSWORD)
    assert not logs_in(server, email, "another passphrase!")
    with session_scope() as db:  # only the hash was ever kept, and the used one is gone
        assert db.scalar(select(Invitation).join(User).where(User.email == email)) is None


def test_an_expired_link_and_a_replaced_link_are_dead(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str]
) -> None:
    server, email = postgres_server_app, imported[0]
    first = link_of(server, klass, email)
    second = link_of(server, klass, email)  # a new link replaces the first
    with visitor(server) as student:
        assert set_password(student, first).status_code == 404
        assert student.get(urlsplit(second).path).status_code == 200
    with session_scope() as db:
        expires = db.scalar(select(Invitation.expires_at).join(User).where(User.email == email))
        assert expires is not None
        assert timedelta(days=get_settings().invite_ttl_days - 1) < expires - utcnow() <= timedelta(
            days=get_settings().invite_ttl_days)
        user_id = db.scalar(select(User.id).where(User.email == email))
        db.execute(update(Invitation).where(Invitation.user_id == user_id).values(expires_at=utcnow()))
        db.commit()
    with visitor(server) as student:
        expired = set_password(student, second)
        assert expired.status_code == 404 and DEAD_LINK in expired.text
    assert not logs_in(server, email, NEW_PASSWORD)


def test_guessed_links_say_nothing_and_are_throttled_per_address(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str]
) -> None:
    server = postgres_server_app
    link = link_of(server, klass, imported[0])
    with visitor(server) as guesser:
        guessed = guesser.get(f"/invite/{secrets.token_urlsafe(32)}")
        assert guessed.status_code == 404 and DEAD_LINK in guessed.text
        assert imported[0] not in guessed.text
        refused = None
        for _ in range(get_settings().login_attempts_per_address + 1):
            answer = set_password(guesser, f"/invite/{secrets.token_urlsafe(32)}")
            if answer.status_code != 404:
                refused = answer
                break
        assert refused is not None and refused.status_code == 429, "guessing links was never throttled"
        assert 0 < int(refused.headers["retry-after"]) <= get_settings().login_window_s
        assert guesser.get(urlsplit(link).path).status_code == 429  # even the right link, from this address
    with visitor(server) as student:  # another address is not held up
        assert set_password(student, link).status_code == 303


def test_asking_for_someone_outside_the_course_does_not_tell_whether_they_exist(
    postgres_server_app: LiveServer, klass: Klass, make_klass: Callable[..., Klass], postgres_stack: Stack
) -> None:
    elsewhere = make_klass(postgres_stack).students[0].email  # an account, in another course
    nobody = f"nobody-{uuid.uuid4().hex[:6]}@uni.edu"
    answers = [invite(postgres_server_app, klass, emails=[email]) for email in (elsewhere, nobody)]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json()["detail"].replace(elsewhere, "X") == answers[1].json()["detail"].replace(nobody, "X")


def test_only_the_courses_instructors_issue_links(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str], make_klass: Callable[..., Klass],
    postgres_stack: Stack,
) -> None:
    server = postgres_server_app
    other_prof = make_klass(postgres_stack).instructor
    for person in (klass.ta, klass.students[0], other_prof):
        with api(server, person) as client:
            refused = client.post(f"/courses/{klass.course_id}/invites", json={"all_without_password": True})
        assert refused.status_code == 403, refused.text
    with page_session(server, klass.ta) as ta:
        dashboard = ta.get(f"/courses/{klass.course_id}")
        assert dashboard.status_code == 200 and "invites.csv" not in dashboard.text
        refused = ta.post(f"/courses/{klass.course_id}/invites.csv",
                          data={"csrf_token": ta.csrf_token(f"/courses/{klass.course_id}")})
        assert refused.status_code == 403 and "text/csv" not in refused.headers["content-type"]
    with session_scope() as db:
        assert db.scalar(select(Invitation).join(User).where(User.email.in_(imported))) is None


def test_the_set_password_form_needs_its_csrf_token_and_a_good_password(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str]
) -> None:
    server, email = postgres_server_app, imported[0]
    link = link_of(server, klass, email)
    with visitor(server) as student:
        assert set_password(student, link, csrf=False).status_code == 403
        short = set_password(student, link, "short")
        assert short.status_code == 422 and "at least 10 characters" in short.text and "<form" in short.text
        mismatch = set_password(student, link, NEW_PASSWORD, "a different passphrase")
        assert mismatch.status_code == 422 and "do not match" in mismatch.text
        assert set_password(student, link).status_code == 303  # the link survived the refusals
    assert logs_in(server, email, NEW_PASSWORD)


def test_a_reset_link_replaces_the_password_and_ends_the_old_sessions_and_tokens(
    postgres_server_app: LiveServer, klass: Klass
) -> None:
    """Whoever knew the old password may have made a token with it (`grader login`): it ends too."""
    server, student = postgres_server_app, klass.students[0]
    with page_session(server, student) as old_session, api(server, student) as old_token:
        link = link_of(server, klass, student.email)
        assert logs_in(server, student.email, PASSWORD)  # the old password works until the link is used
        assert old_token.get("/auth/me").status_code == 200
        with visitor(server) as browser:
            assert set_password(browser, link).status_code == 303
        assert old_session.get("/").status_code == 303  # to the login page: that session ended
        assert old_token.get("/auth/me").status_code == 401
    assert not logs_in(server, student.email, PASSWORD)
    assert logs_in(server, student.email, NEW_PASSWORD)


def test_an_instructor_cannot_take_over_staff_of_another_course(
    postgres_server_app: LiveServer, klass: Klass, make_klass: Callable[..., Klass], postgres_stack: Stack
) -> None:
    other = make_klass(postgres_stack)
    with api(postgres_server_app, klass.instructor) as prof:  # the other course's TA is a student here
        assert prof.post(f"/courses/{klass.course_id}/enrolments", json={"email": other.ta.email}).status_code == 200
    refused = invite(postgres_server_app, klass, emails=[other.ta.email])
    assert refused.status_code == 403 and "staff" in refused.json()["detail"]
    reset = invite(postgres_server_app, klass, emails=[klass.students[1].email])
    assert reset.status_code == 200  # a student of this course alone: a reset is fine
    with session_scope() as db:
        ta = users.get_user_by_email(db, other.ta.email)
        assert ta is not None and db.get(Invitation, ta.id) is None


def test_an_instructor_cannot_take_over_a_student_of_another_course(
    postgres_server_app: LiveServer, klass: Klass, make_klass: Callable[..., Klass], postgres_stack: Stack
) -> None:
    """Any instructor can enrol any account by its email: a link for someone who is also in a
    course the issuer does not run would hand the issuer that course's work, as that student."""
    other = make_klass(postgres_stack)
    newcomer = f"new-{uuid.uuid4().hex[:6]}@uni.edu"  # imported into the other course: no password yet
    with api(postgres_server_app, other.instructor) as theirs:
        imported = theirs.post(f"/courses/{other.course_id}/roster",
                               files={"file": ("roster.csv", f"email,name,role\n{newcomer},New One,\n".encode())})
    assert imported.status_code == 200 and imported.json()["accounts_created"] == 1, imported.text
    with api(postgres_server_app, klass.instructor) as prof:
        for email in (other.students[0].email, newcomer):
            assert prof.post(f"/courses/{klass.course_id}/enrolments", json={"email": email}).status_code == 200

    refused = invite(postgres_server_app, klass, emails=[other.students[0].email])
    assert refused.status_code == 403 and "a course you do not run" in refused.json()["detail"], refused.text
    assert other.course_code not in refused.json()["detail"]  # their other courses are not the issuer's to know
    everyone = invite(postgres_server_app, klass, all_without_password=True)  # here: the newcomer
    assert everyone.status_code == 200, everyone.text
    assert everyone.json()["invites"] == []
    assert [newcomer in line and "a course you do not run" in line for line in everyone.json()["skipped"]] == [True]
    with session_scope() as db:
        people = db.scalars(select(User).where(User.email.in_([other.students[0].email, newcomer]))).all()
        assert len(people) == 2 and all(db.get(Invitation, person.id) is None for person in people)


@pytest.mark.parametrize("held", ["submission", "extension"])
def test_an_instructor_cannot_take_over_a_student_dropped_from_another_course(
    postgres_server_app: LiveServer, klass: Klass, make_klass: Callable[..., Klass], postgres_stack: Stack,
    held: str,
) -> None:
    """A dropped student's work and extensions stay in the course they left, and the account still
    reads its own submissions there: a link for them would hand the issuer that work."""
    server, other = postgres_server_app, make_klass(postgres_stack)
    student, assignment = other.students[0], f"/assignments/{other.assignment_id}"
    with api(server, student) as client:
        me = client.get("/auth/me").json()["id"]
        if held == "submission":
            kept = client.post(f"{assignment}/submissions", files={"file": ("hw2.py", b"x = 1\n")})
            assert kept.status_code == 202, kept.text
    with api(server, other.instructor) as theirs:
        if held == "extension":
            kept = theirs.put(f"{assignment}/extensions/{me}", json={"due_at": "2999-01-01T00:00:00Z"})
            assert kept.status_code == 200, kept.text
        assert theirs.delete(f"/courses/{other.course_id}/enrolments/{me}").status_code == 204
    with api(server, klass.instructor) as prof:
        assert prof.post(f"/courses/{klass.course_id}/enrolments", json={"email": student.email}).status_code == 200

    refused = invite(server, klass, emails=[student.email])
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == (f"{student.email} has submissions or extensions in a course you do not run: "
                                        "ask its instructors or an admin for their link")
    with session_scope() as db:
        assert db.get(Invitation, me) is None


def test_a_link_ends_when_its_person_joins_a_course_its_issuer_does_not_run(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str], make_klass: Callable[..., Klass],
    postgres_stack: Stack,
) -> None:
    """A link was checked against the courses its person was in when it was issued."""
    server, email = postgres_server_app, imported[0]
    link = link_of(server, klass, email)
    other = make_klass(postgres_stack)
    with api(server, other.instructor) as theirs:
        assert theirs.post(f"/courses/{other.course_id}/enrolments", json={"email": email}).status_code == 200
    with visitor(server) as student:
        dead = set_password(student, link)
    assert dead.status_code == 404 and DEAD_LINK in dead.text
    assert not logs_in(server, email, NEW_PASSWORD)


def test_the_dashboard_button_downloads_everyone_without_a_password(
    postgres_server_app: LiveServer, klass: Klass, imported: list[str]
) -> None:
    with page_session(postgres_server_app, klass.instructor) as prof:
        dashboard = f"/courses/{klass.course_id}"
        download = prof.post(f"{dashboard}/invites.csv", data={"csrf_token": prof.csrf_token(dashboard)})
    assert download.status_code == 200, download.text[:300]
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert "no-store" in download.headers["cache-control"]
    lines = download.text.splitlines()
    assert lines[0] == "email,name,link"
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert sorted(rows) == sorted(imported)  # those with a password (the class's own people) are left out
    assert all(f",{postgres_server_app.url}/invite/" in row for row in rows.values())
