"""The browser session: who is logged in (a signed cookie) and the per-session CSRF token."""

from __future__ import annotations

import secrets

from fastapi import Request

from grader.services.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"


def log_in(request: Request, user_id: int) -> None:
    """A fresh session on every login, so a token planted before it (session fixation) is dropped."""
    request.session.clear()
    request.session["user_id"] = user_id
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    request.session.clear()


def session_user_id(request: Request) -> int | None:
    return request.session.get("user_id")


def csrf_token(request: Request) -> str:
    """The token every page form carries in a hidden field; created with the session."""
    token = request.session.get(CSRF_FIELD)
    if token is None:
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


async def verify_csrf(request: Request) -> None:
    """Refuse any unsafe request from a page whose form does not echo the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(CSRF_FIELD)
    sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise Forbidden("the form is stale or was not sent from this site: reload the page and try again")
