"""The ASGI app: JSON API under /api (OpenAPI at /docs), pages at /, static files at /static."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from grader.api.auth_first import AuthenticateFirst
from grader.api.docs import add_docs
from grader.api.errors import API_PREFIX, add_error_handlers
from grader.api.headers import SecurityHeaders
from grader.api.limits import BodyLimit
from grader.api.routes import (
    assignments,
    auth,
    courses,
    extensions,
    grace,
    gradebook,
    groups,
    invites,
    manual_grades,
    regrades,
    rubric_versions,
    similarity,
    submissions,
)
from grader.config import get_settings
from grader.db.session import session_factory
from grader.web import analysis_pages, course_pages, invite_pages, late_pages, pages
from grader.web.rendering import STATIC_DIR

SESSION_MAX_AGE_S = 12 * 3600
# The requests that carry a body without being authenticated: the logins, the logout (a session
# that has already ended still clears its cookie), and the password an invitation link sets.
PUBLIC_UNSAFE_PATHS = (f"{API_PREFIX}/auth/token", "/login", "/logout")
PUBLIC_UNSAFE_PREFIXES = ("/invite/",)


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    for module in (auth, courses, invites, assignments, submissions, gradebook, groups, manual_grades, regrades,
                   rubric_versions, extensions, grace, similarity):
        router.include_router(module.router)
    return router


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="DL autograder",
        summary="Upload homework, get it graded in a sandbox, see and export the scores.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.sessionmaker = session_factory()
    # Outermost last: headers on every answer; the body cap before anything reads the body; the
    # session decoded before authentication, which comes before any route reads the body.
    app.add_middleware(AuthenticateFirst, public_paths=PUBLIC_UNSAFE_PATHS, public_prefixes=PUBLIC_UNSAFE_PREFIXES)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="grader_session",
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=settings.production,
    )
    app.add_middleware(BodyLimit, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    app.include_router(api_router())
    app.include_router(pages.router)
    app.include_router(analysis_pages.router)
    app.include_router(course_pages.router)
    app.include_router(late_pages.router)
    app.include_router(invite_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_docs(app)
    add_error_handlers(app)
    app.exception_handler(pages.LoginRequired)(pages.login_redirect)
    return app
