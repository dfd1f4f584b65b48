"""Server-rendered pages: students upload and read feedback; instructors see scores, grade, regrade
and publish rubric versions (wrong-answer groups and similarity: grader.web.analysis_pages).

Pages log in with a session cookie; every POST carries the session's CSRF token (verify_csrf).
Routes stay thin: parse the form, call the service, render or redirect (303 after a POST).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError

from grader.db.base import MAX_ID, utcnow
from grader.db.models import User
from grader.services import (
    code_view,
    courses,
    gradebook_page,
    manual_grades,
    permissions,
    publishing,
    regrades,
    rubrics,
    standings,
    submissions,
    users,
)
from grader.services.allowance import allowance
from grader.services.errors import Rejected, ServiceError
from grader.services.late_rules import rules_of
from grader.services.throttle import TooManyAttempts
from grader.web.deps import (
    Id,
    PageNumber,
    Password,
    Search,
    SessionDep,
    SettingsDep,
    Text,
    get_session_user,
    read_upload,
)
from grader.web.forms import require_confirmed, utc_time
from grader.web.login import password_login
from grader.web.rendering import redirect, render
from grader.web.session import log_in, log_out, verify_csrf

REFRESH_S = 2  # how often a page of work under way reloads itself
SUBMISSION_IDS = TypeAdapter(list[Id])
LOGIN = TypeAdapter(tuple[Text, Password])
WRONG_LOGIN = "Wrong email or password."
# The staff's submission page shows a student's notebook: should anything in it get past the
# escaping, it still could not run a script, load from elsewhere or send a form off the site.
STUDENT_CONTENT_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                          "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'")

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


class LoginRequired(Exception):
    """A page needs a logged-in user; answered with a redirect to the login form."""


def page_user(user: Annotated[User | None, Depends(get_session_user)]) -> User:
    if user is None:
        raise LoginRequired
    return user


PageUser = Annotated[User, Depends(page_user)]


async def login_redirect(request: Request, _: LoginRequired) -> Response:
    return redirect(f"/login?next={quote(request.url.path)}")


def _local_path(target: str) -> str:
    """Only a path on this site: never redirect to another host after login."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=_local_path(next), email="", error=None)


def _login_again(request: Request, status: int, email: str, next: str, error: str) -> HTMLResponse:
    return render(request, "login.html", None, status, next=_local_path(next), email=email, error=error)


@router.post("/login")
async def login(
    request: Request, db: SessionDep, email: Annotated[str, Form()], password: Annotated[str, Form()],
    next: Annotated[Text, Form()] = "/",
) -> Response:
    """The email and password are checked here, not by their types, so text no account can have (a
    NUL, which PostgreSQL cannot even look up; a lone surrogate, which cannot be hashed) gets the
    login page again like any wrong login."""
    try:
        LOGIN.validate_python((email, password))
    except ValidationError:
        typed = email.encode(errors="replace").decode()  # a lone surrogate cannot be sent back
        return _login_again(request, 401, typed, next, WRONG_LOGIN)
    try:
        user = await password_login(request, db, email, password)
    except TooManyAttempts as exc:
        page = _login_again(request, 429, email, next, f"Too many failed logins for this account or from this "
                            f"network. Please wait {exc.wait} and try again.")
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    if user is None:
        return _login_again(request, 401, email, next, WRONG_LOGIN)
    log_in(request, user)
    return redirect(_local_path(next))


@router.post("/logout")
def logout(request: Request, db: SessionDep, user: Annotated[User | None, Depends(get_session_user)]) -> Response:
    """Ends every session of the account, so a copy of this cookie stops working too."""
    if user is not None:
        users.end_sessions(db, user)
    log_out(request)
    return redirect("/login")


@router.get("/")
def home(request: Request, db: SessionDep, user: PageUser) -> HTMLResponse:
    rows = [(a, permissions.can_view_all(db, user, a.course_id)) for a in courses.assignments_for(db, user)]
    return render(request, "assignments.html", user, rows=rows)


def _assignment_page(request: Request, db: SessionDep, user: User, assignment_id: int,
                     error: ServiceError | None = None) -> Response:
    """The upload form and the student's submissions; an upload's refusal is shown with its status
    and headers (Retry-After during the cooldown)."""
    assignment = courses.get_assignment(db, user, assignment_id)
    if permissions.can_view_all(db, user, assignment.course_id):
        return redirect(f"/assignments/{assignment_id}/scores")
    standing = standings.standings(db, assignment, [user], with_scores=False)[user.id]
    attempts = {attempt.submission.id: attempt for attempt in standing.attempts}
    return render(request, "assignment.html", user, refusal=error, assignment=assignment,
                  submissions=submissions.history(db, user, assignment), standing=standing, attempts=attempts,
                  counted=submissions.counted_for(db, user, assignment, standing),
                  rules=rules_of(assignment), allowance=allowance(db, user, assignment, utcnow()))


@router.get("/assignments/{assignment_id}")
def assignment_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser) -> Response:
    return _assignment_page(request, db, user, assignment_id)


@router.post("/assignments/{assignment_id}/submissions")
def upload(
    request: Request, assignment_id: Id, file: UploadFile, db: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        upload = read_upload(file, settings)
        submission = submissions.submit(db, user, assignment, upload.filename, upload.data)
    except Rejected as exc:
        db.rollback()  # the refused upload's row goes; the page saying so is a normal answer, committed
        return _assignment_page(request, db, user, assignment_id, exc)
    return redirect(f"/submissions/{submission.id}")


@dataclass(frozen=True)
class RefusedGrade:
    """A manual grade the service refused, shown again in its form with the reason."""

    question_id: str
    score: str
    comment: str
    message: str


def _submission_page(request: Request, db: SessionDep, user: User, submission_id: int, status: int = 200,
                     refused: RefusedGrade | None = None) -> HTMLResponse:
    """Students get their feedback; the course's instructors the code, runs and grading forms too."""
    submission = submissions.get_submission(db, user, submission_id)
    context: dict[str, Any] = {
        "submission": submission,
        "feedback": submissions.feedback(db, submission, user),
        "refresh_s": REFRESH_S if submission.status in submissions.ACTIVE_STATUSES else None,
    }
    if not permissions.can_view_all(db, user, submission.assignment.course_id):
        return render(request, "feedback.html", user, status, **context)
    page = render(request, "submission.html", user, status, code=code_view.code_view(db, user, submission),
                  runs=submissions.runs_of(db, user, submission), refused=refused, **context)
    page.headers["Content-Security-Policy"] = STUDENT_CONTENT_POLICY
    return page


@router.get("/submissions/{submission_id}")
def submission_page(request: Request, submission_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _submission_page(request, db, user, submission_id)


def _score(text: str) -> float:
    """The score field as a number; what the browser's own check lets through is checked here."""
    try:
        score = float(text)
    except ValueError:
        raise Rejected(422, f"the score must be a number, not {text!r}" if text.strip() else "enter a score") from None
    if not math.isfinite(score):
        raise Rejected(422, f"the score must be a finite number, not {text!r}")
    return score


@router.post("/submissions/{submission_id}/manual-grades")
def manual_grade(
    request: Request, submission_id: Id, db: SessionDep, user: PageUser, question_id: Annotated[Text, Form()],
    score: Annotated[Text, Form()] = "", comment: Annotated[Text, Form()] = "",
) -> Response:
    """A refused grade (out of range, not a number) comes back as the page, with the form as it
    was sent and the reason next to it, never as a bare error page."""
    submission = submissions.get_submission(db, user, submission_id)
    try:
        manual_grades.set_manual_grade(db, user, submission, question_id, _score(score), comment)
    except Rejected as exc:
        db.rollback()
        refused = RefusedGrade(question_id, score, comment, f"Not saved: {exc.message}")
        return _submission_page(request, db, user, submission_id, exc.status_code, refused)
    return redirect(f"/submissions/{submission_id}#manual")


@router.post("/submissions/{submission_id}/manual-grades/remove")
def remove_manual_grade(
    request: Request, submission_id: Id, db: SessionDep, user: PageUser, question_id: Annotated[Text, Form()],
    score: Annotated[Text, Form()] = "", comment: Annotated[Text, Form()] = "", confirm: Annotated[Text, Form()] = "",
) -> Response:
    """Remove shares the grade's form with Save, so its "yes, remove" box cannot be required there:
    unticked, the form comes back as sent with the reason, and the grade stays."""
    submission = submissions.get_submission(db, user, submission_id)
    permissions.require_grade(db, user, submission.assignment.course)  # others are refused, not asked
    try:
        require_confirmed(confirm, "Not removed: tick “yes, remove” beside the Remove button to confirm; "
                                   "the grade and its comment are deleted for good")
    except Rejected as exc:
        refused = RefusedGrade(question_id, score, comment, exc.message)
        return _submission_page(request, db, user, submission_id, exc.status_code, refused)
    manual_grades.remove_manual_grade(db, user, submission, question_id)
    return redirect(f"/submissions/{submission_id}#manual")


@router.post("/submissions/{submission_id}/regrade")
def regrade_submission(
    submission_id: Id, db: SessionDep, user: PageUser, reason: Annotated[Text, Form()] = ""
) -> Response:
    submission = submissions.get_submission(db, user, submission_id)
    batch = regrades.start_regrade(db, user, submission.assignment, reason, submission_ids=[submission_id])
    return redirect(f"/assignments/{submission.assignment_id}/regrades/{batch.id}")


@router.post("/runs/{run_id}/rerun")
def rerun(run_id: Id, db: SessionDep, user: PageUser) -> Response:
    batch = regrades.rerun(db, user, run_id)
    return redirect(f"/assignments/{batch.assignment_id}/regrades/{batch.id}")


@router.get("/assignments/{assignment_id}/scores")
def scores_page(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser,
    page: PageNumber = 1, q: Search = "",
) -> HTMLResponse:
    """Statistics over the whole class; the students a page at a time, or those `q` finds."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return render(request, "scores.html", user, view=gradebook_page.gradebook_page(db, user, assignment, page, q),
                  late_rules=rules_of(assignment), disk=rubrics.disk_rubric(assignment.rubric_id))


def _rubric_page(request: Request, db: SessionDep, user: User, assignment_id: int, published: str = "",
                 error: Rejected | None = None) -> HTMLResponse:
    state = publishing.rubric_status(db, user, courses.get_assignment(db, user, assignment_id))
    just_published = published == state.published_hash
    return render(request, "rubric.html", user, refusal=error, state=state, just_published=just_published,
                  can_publish=permissions.can_change_settings(db, user, state.assignment.course_id))


@router.get("/assignments/{assignment_id}/rubric")
def rubric_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser, published: str = "") -> Response:
    """The published rubric version next to the folder on disk: the diff, Publish, then the offer to regrade."""
    return _rubric_page(request, db, user, assignment_id, published)


@router.post("/assignments/{assignment_id}/rubric")
def publish_rubric(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser, expected_hash: Annotated[Text, Form()]
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        publishing.publish(db, user, assignment, expected_hash)
    except Rejected as exc:
        db.rollback()
        return _rubric_page(request, db, user, assignment_id, error=exc)
    return redirect(f"/assignments/{assignment_id}/rubric?published={quote(assignment.rubric_hash)}")


def _submission_ids(text: str) -> list[int] | None:
    """'12, 15 18' -> [12, 15, 18]; blank -> None (no filter). Parsed as the API parses its ids."""
    if not text.strip():
        return None
    try:
        return SUBMISSION_IDS.validate_python([p for p in re.split(r"[\s,]+", text.strip()) if p])
    except ValidationError:
        raise Rejected(422, f"submission ids must be numbers separated by commas, each from 1 to {MAX_ID}, "
                            f"not {text!r}") from None


@router.post("/assignments/{assignment_id}/regrades")
def regrade_assignment(
    assignment_id: Id, db: SessionDep, user: PageUser, reason: Annotated[Text, Form()] = "",
    submission_ids: Annotated[Text, Form()] = "", since: Annotated[Text, Form()] = "",
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    batch = regrades.start_regrade(db, user, assignment, reason, _submission_ids(submission_ids),
                                   utc_time(since, "since"))
    return redirect(f"/assignments/{assignment_id}/regrades/{batch.id}")


@router.get("/assignments/{assignment_id}/regrades/{batch_id}")
def regrade_page(request: Request, assignment_id: Id, batch_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    """The progress bar; regrade.js polls the API and shows the diff when the batch is finished."""
    assignment = courses.get_assignment(db, user, assignment_id)
    progress = regrades.regrade_progress(db, user, batch_id, assignment.id)
    return render(request, "regrade.html", user, assignment=assignment, batch_id=batch_id, progress=progress)
