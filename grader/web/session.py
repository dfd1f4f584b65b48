"""The browser session: who is logged in (a signed cookie) and the per-session CSRF token.

The cookie also carries the account's session version at login; logging out raises the version
(users.end_sessions), so the cookie, and every copy of it, stops counting as logged in.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from grader.db.models import User
from grader.services.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
USER_ID = "user_id"
SESSION_VERSION = "session_version"


def log_in(request: Request, user: User) -> None:
    """A fresh session on every login, so a token planted before it (session fixation) is dropped."""
    request.session.clear()
    request.session[USER_ID] = user.id
    request.session[SESSION_VERSION] = user.session_version
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    request.session.clear()


def session_login(request: Request) -> tuple[int, int] | None:
    """(user id, session version) of the login this cookie records, if any."""
    user_id, version = request.session.get(USER_ID), request.session.get(SESSION_VERSION)
    return (user_id, version) if isinstance(user_id, int) and isinstance(version, int) else None


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
