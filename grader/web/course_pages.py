"""Running a course from the pages: one's courses (and creating one), a course's dashboard for its
staff (assignments with their grading counts, the roster a page at a time; for instructors the
forms that change them), and an assignment's settings.

A refused form is shown again on its page with the reason and the refusal's status; a change
that went through redirects (303) to the dashboard, which shows what was done once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from grader.config import get_settings
from grader.db.models import Role, User
from grader.services import assignments, courses, dashboard, permissions, roster
from grader.services.assignments import AssignmentSettings
from grader.services.errors import Rejected
from grader.web.deps import Id, PageNumber, Search, SessionDep, SettingsDep, Text, read_upload
from grader.web.forms import LateRulesForm, require_confirmed, utc_time, whole_number
from grader.web.pages import PageUser
from grader.web.rendering import redirect, render
from grader.web.session import verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

NOTICE = "notice"  # the session key of what the next dashboard shows once


class SettingsForm(LateRulesForm):
    """The assignment settings form, as sent: every field is text, a blank one means none."""

    title: Text = ""
    due_at: Text = ""
    max_submissions: Text = ""
    cooldown_s: Text = ""
    release_at: Text = ""

    def settings(self) -> AssignmentSettings:
        return AssignmentSettings(
            title=self.title,
            due_at=utc_time(self.due_at, "due date"),
            max_submissions=whole_number(self.max_submissions, "submission limit"),
            cooldown_s=whole_number(self.cooldown_s, "cooldown"),
            release_at=utc_time(self.release_at, "release of after-due-date details"),
            **self.late_settings(),
        )


class NewAssignmentForm(SettingsForm):
    slug: Text = ""
    rubric_id: Text = ""


def _courses_page(request: Request, db: SessionDep, user: User, error: Rejected | None = None) -> HTMLResponse:
    return render(request, "courses.html", user, refusal=error,
                  memberships=courses.courses_of(db, user), can_create=user.role in (Role.instructor, Role.admin))


@router.get("/courses")
def courses_page(request: Request, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _courses_page(request, db, user)


@router.post("/courses")
def create_course(
    request: Request, db: SessionDep, user: PageUser, code: Annotated[Text, Form()], title: Annotated[Text, Form()]
) -> Response:
    try:
        course = courses.create_course(db, user, code.strip(), title)
    except Rejected as exc:
        db.rollback()
        return _courses_page(request, db, user, exc)
    return redirect(f"/courses/{course.id}")


def _dashboard(request: Request, db: SessionDep, user: User, course_id: int, page: int = 1, search: str = "",
               error: Rejected | None = None) -> HTMLResponse:
    course = courses.get_course(db, user, course_id)
    progress = dashboard.course_progress(db, user, course)
    people = roster.roster(db, user, course, (page - 1) * roster.ROSTER_PAGE, roster.ROSTER_PAGE, search)
    return render(
        request, "course.html", user, refusal=error,
        course=course, progress=progress, people=people, page=page, search=search,
        pages=people.pages, counts=roster.role_counts(db, course),
        can_change=permissions.can_change_settings(db, user, course.id), invite_ttl_days=get_settings().invite_ttl_days,
        notice=request.session.pop(NOTICE, None), archived_refuses=courses.ARCHIVED_REFUSES,
    )


@router.get("/courses/{course_id}")
def course_page(request: Request, course_id: Id, db: SessionDep, user: PageUser, page: PageNumber = 1,
                search: Search = "") -> HTMLResponse:
    return _dashboard(request, db, user, course_id, page, search)


def back_with_notice(request: Request, course_id: int, notice: str, anchor: str) -> Response:
    """Back to the course's dashboard at `anchor`, which shows `notice` once."""
    request.session[NOTICE] = notice
    return redirect(f"/courses/{course_id}#{anchor}")


@router.post("/courses/{course_id}/archive")
def archive_course(request: Request, course_id: Id, db: SessionDep, user: PageUser) -> Response:
    course = courses.get_course(db, user, course_id)
    courses.archive_course(db, user, course)
    return back_with_notice(request, course_id, f"{course.code} is archived.", "settings")


@router.post("/courses/{course_id}/reopen")
def reopen_course(request: Request, course_id: Id, db: SessionDep, user: PageUser) -> Response:
    course = courses.get_course(db, user, course_id)
    courses.reopen_course(db, user, course)
    return back_with_notice(request, course_id, f"{course.code} is open again.", "settings")


@router.post("/courses/{course_id}/enrolments")
def enrol(
    request: Request, course_id: Id, db: SessionDep, user: PageUser, email: Annotated[Text, Form()],
    role: Annotated[Text, Form()] = "student", name: Annotated[Text, Form()] = "",
) -> Response:
    course = courses.get_course(db, user, course_id)
    try:
        enrolment = roster.enrol(db, user, course, email, role, name)
    except Rejected as exc:
        db.rollback()
        return _dashboard(request, db, user, course_id, error=exc)
    return back_with_notice(request, course_id, f"{enrolment.user.email} is enrolled as {enrolment.role}.", "roster")


@router.post("/courses/{course_id}/roster")
def import_roster(
    request: Request, course_id: Id, file: UploadFile, db: SessionDep, settings: SettingsDep, user: PageUser,
    login_domain: Annotated[Text, Form()] = "",
) -> Response:
    course = courses.get_course(db, user, course_id)
    try:
        result = roster.import_roster(db, user, course, read_upload(file, settings).data, login_domain.strip() or None)
    except Rejected as exc:
        db.rollback()
        return _dashboard(request, db, user, course_id, error=exc)
    skipped = f" Skipped {'; '.join(result.skipped)}." if result.skipped else ""
    return back_with_notice(request, course_id,
                 f"Roster imported: {result.enrolled} enrolled, {result.changed} changed, {result.unchanged} "
                 f"unchanged; {result.accounts_created} new accounts.{skipped}", "roster")


@router.post("/courses/{course_id}/enrolments/{user_id}/drop")
def drop(request: Request, course_id: Id, user_id: Id, db: SessionDep, user: PageUser,
         confirm: Annotated[Text, Form()] = "") -> Response:
    """Only with the row's "yes, drop" box ticked: a drop forgets the enrolment's Canvas ids."""
    course = courses.get_course(db, user, course_id)
    permissions.require_change_settings(db, user, course)  # others are refused, not asked to confirm
    try:
        require_confirmed(confirm, "Not dropped: tick “yes, drop” beside the Drop button to confirm; their "
                                   "submissions stay, but their Canvas ids and section are forgotten")
        roster.drop(db, user, course, user_id)
    except Rejected as exc:
        db.rollback()
        return _dashboard(request, db, user, course_id, error=exc)
    return back_with_notice(request, course_id, "Dropped; their submissions stay.", "roster")


@router.post("/courses/{course_id}/assignments")
def create_assignment(
    request: Request, course_id: Id, db: SessionDep, user: PageUser, form: Annotated[NewAssignmentForm, Form()]
) -> Response:
    course = courses.get_course(db, user, course_id)
    try:
        made = assignments.create_assignment(db, user, course, form.slug.strip(), form.rubric_id.strip(),
                                             form.settings())
    except Rejected as exc:
        db.rollback()
        return _dashboard(request, db, user, course_id, error=exc)
    return back_with_notice(request, course_id, f"{made.title} ({made.slug}) is created.", "assignments")


def _settings_page(request: Request, db: SessionDep, user: User, assignment_id: int,
                   error: Rejected | None = None) -> HTMLResponse:
    assignment = courses.get_assignment(db, user, assignment_id)
    permissions.require_change_settings(db, user, assignment.course)
    return render(request, "assignment_settings.html", user, refusal=error,
                  assignment=assignment, settings=assignments.settings_of(assignment))


@router.get("/assignments/{assignment_id}/settings")
def settings_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _settings_page(request, db, user, assignment_id)


@router.post("/assignments/{assignment_id}/settings")
def edit_settings(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser, form: Annotated[SettingsForm, Form()]
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        assignments.update_assignment(db, user, assignment, form.settings())
    except Rejected as exc:
        db.rollback()
        return _settings_page(request, db, user, assignment_id, exc)
    return back_with_notice(request, assignment.course_id, f"{assignment.title}: settings saved.", "assignments")
