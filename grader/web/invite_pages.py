"""Invitation links in the pages: the course dashboard's download of links for everyone without a
password (CSV), and the page a link opens, where its person chooses a password and is logged in.

The link's page is for people who are not logged in yet, so it is public (grader.api.main). Every
request to it counts against the client address's login attempts until the link proves live, so
guessing links is throttled like guessing passwords; its form carries the session's CSRF token like
every other; and a link is a secret, so its pages are never cached nor named in a Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from grader.db.models import User
from grader.services import courses, invitations, users
from grader.services.errors import NotFound, Rejected
from grader.services.throttle import TooManyAttempts, login_throttle
from grader.web.course_pages import NOTICE, back_with_notice
from grader.web.deps import Id, Password, SessionDep
from grader.web.login import client_address
from grader.web.pages import PageUser
from grader.web.rendering import error_page, redirect, render
from grader.web.session import log_in, verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

SECRET = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}  # answers that carry or follow a link


def _secret(response: Response) -> Response:
    response.headers.update(SECRET)
    return response


@router.post("/courses/{course_id}/invites.csv")
def download_invites(request: Request, course_id: Id, db: SessionDep, user: PageUser) -> Response:
    """Fresh links for everyone in the course without a password (replacing their older links)."""
    course = courses.get_course(db, user, course_id)
    issued = invitations.issue_invites(db, user, course, None)
    skipped = [f"No link for {'; '.join(issued.skipped)}."] if issued.skipped else []
    if not issued.invites:
        return back_with_notice(request, course_id,
                                " ".join([f"No one else in {course.code} is without a password.", *skipped]), "roster")
    if skipped:  # shown by the dashboard's next load (the download leaves the page as it is)
        request.session[NOTICE] = skipped[0]
    attachment = f'attachment; filename="{course.code}-invitations.csv"'  # a course code is a safe file name
    return _secret(Response(invitations.invites_csv(issued.invites), media_type="text/csv",
                            headers={"Content-Disposition": attachment}))


def _live_link(request: Request, db: Session, token: str) -> User | Response:
    """The link's account, or the answer for a dead link (404, alike whatever made it dead) or for
    an address that opened too many dead ones (429)."""
    address, throttle = client_address(request), login_throttle()
    try:
        throttle.attempt_link(address)
    except TooManyAttempts as exc:
        refused = error_page(request, 429, f"Too many unknown links or failed logins from this network. "
                                           f"Please wait {exc.wait} and try again.")
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return _secret(refused)
    user = invitations.invited_user(db, token)
    if user is None:
        return _secret(error_page(request, 404, invitations.DEAD_LINK))
    throttle.link_worked(address)
    return user


def _form(request: Request, token: str, invited: User, status: int = 200, error: str | None = None) -> Response:
    page = render(request, "invite.html", None, status, token=token, invited=invited, error=error,
                  min_chars=users.MIN_PASSWORD_CHARS)
    return _secret(page)


@router.get("/invite/{token}")
def invite_page(request: Request, token: str, db: SessionDep) -> Response:
    found = _live_link(request, db, token)
    return found if isinstance(found, Response) else _form(request, token, found)


@router.post("/invite/{token}")
def choose_password(
    request: Request, token: str, db: SessionDep, password: Annotated[Password, Form()] = "",
    confirmation: Annotated[Password, Form()] = "",
) -> Response:
    """Set the password, use the link up and log its person in."""
    found = _live_link(request, db, token)
    if isinstance(found, Response):
        return found
    try:
        user = invitations.accept_invite(db, token, password, confirmation)
    except NotFound:  # used by a request that raced this one
        return _secret(error_page(request, 404, invitations.DEAD_LINK))
    except Rejected as exc:
        db.rollback()  # a refusal is answered with a page, which the request's session would commit
        return _form(request, token, found, exc.status_code, exc.message)
    log_in(request, user)
    return _secret(redirect("/"))
