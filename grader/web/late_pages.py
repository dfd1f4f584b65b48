"""Pages for late work: an assignment's late rules and extensions, a course's grace days and
their ledger (instructors change them, TAs read them), and a student marking the submission that counts.

Like grader.web.pages: thin routes, a CSRF token on every POST, 303 after a successful one, and
the form shown again with the service's message when it refuses the input.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from grader.db.models import User
from grader.services import assignments, choices, courses, extensions, grace, permissions, submissions
from grader.services.errors import Rejected
from grader.services.late_rules import rules_of
from grader.web.deps import Id, SessionDep, Text
from grader.web.forms import LateRulesForm, utc_time
from grader.web.pages import PageUser
from grader.web.rendering import redirect, render
from grader.web.session import verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def _late_page(request: Request, db: SessionDep, user: User, assignment_id: int,
               error: Rejected | None = None) -> HTMLResponse:
    assignment = courses.get_assignment(db, user, assignment_id)
    granted = extensions.extensions_of(db, user, assignment)
    return render(request, "late.html", user, refusal=error, assignment=assignment, rules=rules_of(assignment),
                  settings=assignments.settings_of(assignment), extensions=granted,
                  students=courses.students_of(db, assignment.course),
                  can_change=permissions.can_change_settings(db, user, assignment.course_id))


@router.get("/assignments/{assignment_id}/late")
def late_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _late_page(request, db, user, assignment_id)


@router.post("/assignments/{assignment_id}/late-rules")
def save_late_rules(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser,
    form: Annotated[LateRulesForm, Form()],
) -> Response:
    """The late rules and the counting rule alone; the settings page changes them with the rest."""
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        assignments.update_assignment(db, user, assignment, replace(assignments.settings_of(assignment),
                                                                    **form.late_settings()))
    except Rejected as exc:
        db.rollback()
        return _late_page(request, db, user, assignment_id, exc)
    return redirect(f"/assignments/{assignment_id}/late")


@router.post("/assignments/{assignment_id}/extensions")
def grant_extension(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser, student_id: Annotated[Id, Form()],
    until: Annotated[Text, Form()], reason: Annotated[Text, Form()] = "",
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        due_at = utc_time(until, "new due date")
        if due_at is None:
            raise Rejected(422, "give the student's new due date")
        extensions.grant_extension(db, user, assignment, student_id, due_at, reason)
    except Rejected as exc:
        db.rollback()
        return _late_page(request, db, user, assignment_id, exc)
    return redirect(f"/assignments/{assignment_id}/late#extensions")


@router.post("/assignments/{assignment_id}/extensions/{user_id}/revoke")
def revoke_extension(assignment_id: Id, user_id: Id, db: SessionDep, user: PageUser) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    extensions.revoke_extension(db, user, assignment, user_id)
    return redirect(f"/assignments/{assignment_id}/late#extensions")


@router.post("/submissions/{submission_id}/choose")
def choose_submission(submission_id: Id, db: SessionDep, user: PageUser) -> Response:
    submission = submissions.get_submission(db, user, submission_id)
    choices.choose(db, user, submission)
    return redirect(f"/assignments/{submission.assignment_id}")


def _grace_page(request: Request, db: SessionDep, user: User, course_id: int,
                error: Rejected | None = None) -> HTMLResponse:
    course = courses.get_course(db, user, course_id)
    return render(request, "grace.html", user, refusal=error, ledger=grace.grace_ledger(db, user, course),
                  can_change=permissions.can_change_settings(db, user, course.id))


@router.get("/courses/{course_id}/grace")
def grace_page(request: Request, course_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _grace_page(request, db, user, course_id)


@router.post("/courses/{course_id}/grace")
def set_grace_days(
    request: Request, course_id: Id, db: SessionDep, user: PageUser, grace_days: Annotated[int, Form()],
) -> Response:
    course = courses.get_course(db, user, course_id)
    try:
        grace.set_grace_days(db, user, course, grace_days)
    except Rejected as exc:
        db.rollback()
        return _grace_page(request, db, user, course_id, exc)
    return redirect(f"/courses/{course_id}/grace")
