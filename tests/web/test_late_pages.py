"""The late-work pages without a browser: who may open them, a refused rule shown with its reason,
the grace-days form, and a student marking the submission that counts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from grader.db.models import Assignment, Course, Submission, User
from grader.db.session import session_scope
from grader.services import claims, grace, results
from tests.fixtures.services import Stack
from tests.service.helpers import REFERENCE, report_failing
from tests.web.support import Klass, LiveServer, Person, api, page_session


def test_late_rules_and_grace_days_pages_for_instructors_only(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    late = f"/assignments/{klass.assignment_id}/late"
    with api(sqlite_server, klass.students[0]) as client:
        course_id = client.get(f"/assignments/{klass.assignment_id}").json()["course_id"]
    with page_session(sqlite_server, klass.students[0]) as student:
        assert student.get(late).status_code == 403
        assert student.get(f"/courses/{course_id}/grace").status_code == 403
    with page_session(sqlite_server, klass.instructor) as prof:
        token = prof.csrf_token(late)
        forged = prof.post(f"/assignments/{klass.assignment_id}/late-rules", data={"late_credit": "2d=80"})
        assert forged.status_code == 403
        refused = prof.post(f"/assignments/{klass.assignment_id}/late-rules",
                            data={"late_credit": "2d=80,1d=90", "late_after": "zero", "csrf_token": token})
        assert refused.status_code == 422 and "must be longer than the window before it (2d)" in refused.text
        saved = prof.post(f"/assignments/{klass.assignment_id}/late-rules",
                          data={"late_credit": "36h=75", "late_after": "reject", "counts": "best", "csrf_token": token})
        assert saved.status_code == 303
        assert "up to 36h late: 75 %, then uploads refused; the best submission counts" in prof.get(late).text

        grace_page = f"/courses/{course_id}/grace"
        too_many = prof.post(grace_page, data={"grace_days": "999", "csrf_token": token})
        assert too_many.status_code == 422 and "from 0 to 365" in too_many.text
        assert prof.post(grace_page, data={"grace_days": "3", "csrf_token": token}).status_code == 303
        assert "Each student has 3 grace days" in prof.get(grace_page).text


def test_tas_read_the_late_rules_extensions_and_grace_days_without_the_instructors_forms(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack)
    page, grace_page = f"/assignments/{klass.assignment_id}", f"/courses/{klass.course_id}/grace"
    with api(sqlite_server, klass.students[0]) as client:
        student_id = client.get("/auth/me").json()["id"]
    forms = (f'action="{page}/late-rules"', f'action="{page}/extensions"',
             f'action="{page}/extensions/{student_id}/revoke"', f'action="{grace_page}"')
    read_only = "Only the course's instructors change its settings."
    with page_session(sqlite_server, klass.instructor) as prof:
        granted = prof.post(f"{page}/extensions", data={"student_id": str(student_id), "until": "2999-02-01T00:00",
                                                        "reason": "medical note",
                                                        "csrf_token": prof.csrf_token(f"{page}/late")})
        assert granted.status_code == 303
        shown = prof.get(f"{page}/late").text + prof.get(grace_page).text
        assert all(form in shown for form in forms) and read_only not in shown
    with page_session(sqlite_server, klass.ta) as ta:
        late, grace_days = ta.get(f"{page}/late"), ta.get(grace_page)
        assert late.status_code == grace_days.status_code == 200
        assert "medical note" in late.text and "Each student has" in grace_days.text
        for text in (late.text, grace_days.text):
            assert not any(form in text for form in forms)
            assert read_only in text


def test_the_extension_forms_do_not_say_who_an_id_outside_the_course_is(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass, other = make_klass(shared_sqlite_stack), make_klass(shared_sqlite_stack)
    page = f"/assignments/{klass.assignment_id}"
    with api(sqlite_server, other.students[0]) as client:
        theirs = client.get("/auth/me").json()["id"]
    with page_session(sqlite_server, klass.instructor) as prof:
        token = prof.csrf_token(f"{page}/late")
        for refused in (
            prof.post(f"{page}/extensions", data={"student_id": str(theirs), "until": "2999-02-01T00:00",
                                                  "csrf_token": token}),
            prof.post(f"{page}/extensions/{theirs}/revoke", data={"csrf_token": token}),
        ):
            assert refused.status_code == 404, refused.request.url
            assert f"user {theirs} is not a student of {klass.course_code}" in refused.text, refused.request.url
            assert other.students[0].email not in refused.text, refused.request.url


def test_a_student_marks_the_submission_that_counts(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, counts="chosen")
    page = f"/assignments/{klass.assignment_id}"
    with api(sqlite_server, klass.students[0]) as client:
        first, second = (client.post(f"{page}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
                         for _ in range(2))
    with page_session(sqlite_server, klass.students[0]) as student:
        def counting() -> int:
            row = re.search(r'data-submission="(\d+)">(?:(?!</tr>).)*>counts</span>', student.get(page).text, re.S)
            assert row, "no submission marked as counting"
            return int(row.group(1))

        assert counting() == second  # the last, until one is marked
        assert student.get(page).text.count("Make this one count") == 1
        marked = student.post(f"/submissions/{first}/choose", data={"csrf_token": student.csrf_token(page)})
        assert marked.status_code == 303 and marked.headers["location"] == page
        assert counting() == first
    with page_session(sqlite_server, klass.students[1]) as other:
        assert other.post(f"/submissions/{first}/choose", data={"csrf_token": other.csrf_token(page)}
                          ).status_code == 403


def test_an_archived_course_refuses_extensions_grace_days_and_choices_on_the_pages(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, counts="chosen")
    page = f"/assignments/{klass.assignment_id}"
    with api(sqlite_server, klass.students[0]) as client, api(sqlite_server, klass.instructor) as prof:
        me = client.get("/auth/me").json()["id"]
        sid, _ = (client.post(f"{page}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
                  for _ in range(2))
        assert prof.put(f"{page}/extensions/{me}", json={"due_at": "2999-01-01T00:00:00Z"}).status_code == 200
        assert prof.post(f"/courses/{klass.course_id}/archive").status_code == 200
    reason = f"{klass.course_code} is archived"
    with page_session(sqlite_server, klass.instructor) as prof:
        token = prof.csrf_token(f"{page}/late")
        for refused in (
            prof.post(f"{page}/late-rules", data={"late_credit": "2d=80", "late_after": "zero", "csrf_token": token}),
            prof.post(f"{page}/extensions", data={"student_id": str(me), "until": "2999-02-01T00:00",
                                                  "csrf_token": token}),
            prof.post(f"{page}/extensions/{me}/revoke", data={"csrf_token": token}),
            prof.post(f"/courses/{klass.course_id}/grace", data={"grace_days": "3", "csrf_token": token}),
        ):
            assert refused.status_code == 409 and reason in refused.text, refused.request.url
    with page_session(sqlite_server, klass.students[0]) as student:
        assert "Make this one count" not in student.get(page).text  # on the first: the last counts
        refused = student.post(f"/submissions/{sid}/choose", data={"csrf_token": student.csrf_token(page)})
        assert refused.status_code == 409 and reason in refused.text


def test_dates_from_year_9000_are_refused_on_the_pages_and_a_stored_one_shows(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, late_credit="7d=50", late_after="reject")
    page = f"/assignments/{klass.assignment_id}"
    with api(sqlite_server, klass.students[0]) as client:
        me = client.get("/auth/me").json()["id"]
    with page_session(sqlite_server, klass.instructor) as prof:
        token = prof.csrf_token(f"{page}/late")
        settings = prof.post(f"{page}/settings", data={"title": "HW2", "due_at": "9999-12-31T00:00",
                                                      "late_credit": "7d=50", "late_after": "reject",
                                                      "csrf_token": token})
        extension = prof.post(f"{page}/extensions", data={"student_id": str(me), "until": "9999-12-31T00:00",
                                                          "csrf_token": token})
        for refused in (settings, extension):
            assert refused.status_code == 422 and "before 9000-01-01" in refused.text, refused.request.url

    with session_scope() as db:  # as a database from before dates were bounded may hold it
        db.execute(update(Assignment).where(Assignment.id == klass.assignment_id)
                   .values(due_at=datetime(9999, 12, 31, tzinfo=UTC)))
        db.commit()
    with page_session(sqlite_server, klass.students[0]) as student:
        shown = student.get(page)
        assert shown.status_code == 200 and "Submit for grading" in shown.text


def _graded_submission(student: Person, assignment_id: int, *failing: str) -> int:
    """A submission of REFERENCE stored and graded here, the worker played (no task is sent):
    every auto question passes but `failing`."""
    with session_scope() as db:
        user = db.scalars(select(User).where(User.email == student.email)).one()
        assignment = db.get_one(Assignment, assignment_id)
        submission = Submission(assignment_id=assignment.id, user_id=user.id, filename="hw2.py", size=len(REFERENCE),
                                sha256=hashlib.sha256(REFERENCE).hexdigest(), content=REFERENCE,
                                rubric_hash=assignment.rubric_hash)
        db.add(submission)
        db.flush()
        claim = claims.claim(db, submission.id, assignment.rubric_hash, "cpu", "late-pages-test")
        assert claim is not None and results.record_result(db, claim, report_failing(*failing))
        db.commit()
        return submission.id


def test_under_best_a_student_sees_no_counts_mark_while_it_turns_on_a_hidden_question(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, counts="best")
    student = klass.students[0]
    passes = _graded_submission(student, klass.assignment_id)
    fails = _graded_submission(student, klass.assignment_id, "1.2.3d")  # hidden: the same score shown
    with page_session(sqlite_server, student) as session:
        page = session.get(f"/assignments/{klass.assignment_id}").text
        assert ">counts</span>" not in page
        assert "the best over every question, some of them not shown to you: which one is not shown either" in page
        assert ">counts</span>" not in session.get(f"/submissions/{passes}").text
    with api(sqlite_server, student) as client:
        assert [client.get(f"/submissions/{sid}").json()["feedback"]["counts"] for sid in (passes, fails)] == [
            None, None]
    with api(sqlite_server, klass.instructor) as client:
        assert [client.get(f"/submissions/{sid}").json()["feedback"]["counts"] for sid in (passes, fails)] == [
            True, False]


def test_the_grace_days_left_on_an_assignment_page_take_out_what_it_spends(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, due_at=datetime.now(UTC) - timedelta(hours=36), late_credit="1d=50")
    with session_scope() as db:
        course = db.get_one(Course, klass.course_id)
        prof = db.scalars(select(User).where(User.email == klass.instructor.email)).one()
        grace.set_grace_days(db, prof, course, 3)
        db.commit()
    _graded_submission(klass.students[0], klass.assignment_id)  # 36 h late: 2 grace days make it on time
    with page_session(sqlite_server, klass.students[0]) as session:
        page = " ".join(session.get(f"/assignments/{klass.assignment_id}").text.split())
        assert "1 of 3 grace days left (2 taken by this assignment)" in page
