"""Authentication before the body: a request that may carry one (any method but GET, HEAD and
OPTIONS) is refused as soon as its head arrives when it comes from nobody known, so an anonymous
sender can never make the server read an upload. The routes' dependencies still decide who may do
what; this only decides sooner."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from grader.api.errors import error_response, is_api
from grader.api.limits import CLOSE_CONNECTION
from grader.web.deps import get_session_user, token_user
from grader.web.session import SAFE_METHODS

NOT_LOGGED_IN = "you are not logged in, or your session has ended: log in and send the form again"


def _bearer_token(request: Request) -> str | None:
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


def _refusal(request: Request) -> Response | None:
    """401 (API: no valid bearer token) or 403 (pages: no live session), else None."""
    with request.app.state.sessionmaker() as db:
        if not is_api(request):
            if get_session_user(request, db) is None:
                return error_response(request, 403, NOT_LOGGED_IN, CLOSE_CONNECTION)
            return None
        try:
            token_user(db, _bearer_token(request))
        except HTTPException as exc:
            return error_response(request, exc.status_code, exc.detail, {**(exc.headers or {}), **CLOSE_CONNECTION})
    return None


class AuthenticateFirst:
    """Needs the session middleware outside it (the pages' login lives in the session)."""

    def __init__(self, app: ASGIApp, public_paths: Collection[str], public_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = public_prefixes  # paths under these are public too

    def _public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and not self._public(scope["path"]):
            refusal = await run_in_threadpool(_refusal, Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
