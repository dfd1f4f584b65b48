"""Jinja2 set-up for the pages: the templates, their filters, and rendering an answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from grader.db.models import User
from grader.services.allowance import duration
from grader.services.errors import ServiceError
from grader.services.late_credit import format_lateness
from grader.services.submissions import shown_status
from grader.web.forms import datetime_local
from grader.web.markdown import render_markdown
from grader.web.session import csrf_token

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"

templates = Jinja2Templates(directory=WEB_DIR / "templates")


def _csrf_field(request: Request) -> Markup:
    """The hidden field every form that posts carries: the session's CSRF token."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token(request))


templates.env.globals["csrf_field"] = _csrf_field


def _points(value: float | None) -> str:
    """At most two decimals: a mean of 2.3333 reads 2.33 (the API and the CSV keep every digit)."""
    return "—" if value is None else f"{round(value, 2):g}"


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _line_links(text: str, module: str) -> Markup:
    """Feedback with each "line N of <module>" a link to that line of the code shown below it."""
    where = re.compile(rf"line (\d+) of {re.escape(str(escape(module)))}")
    return Markup(where.sub(lambda m: f'<a href="#line-{m[1]}">{m[0]}</a>', str(escape(text))))


templates.env.filters["points"] = _points
templates.env.filters["percent"] = _percent
templates.env.filters["line_links"] = _line_links
templates.env.filters["when"] = _when
templates.env.filters["duration"] = duration
templates.env.filters["datetime_local"] = datetime_local
templates.env.filters["lateness"] = format_lateness
templates.env.filters["markdown"] = render_markdown
templates.env.filters["shown_status"] = shown_status


def render(
    request: Request, name: str, user: User | None, status: int = 200, /, *, refusal: ServiceError | None = None,
    **context: object,
) -> HTMLResponse:
    """The page `name`; positional-only up to `status`, so no template variable can be taken for one
    of them. A form's `refusal` sets the status, the page's `error` and the headers it carries
    (Retry-After during a cooldown)."""
    if refusal is not None:
        status, context["error"] = refusal.status_code, refusal.message
    page = templates.TemplateResponse(request, name, {"user": user, **context}, status_code=status)
    page.headers.update(refusal.headers if refusal is not None else {})
    return page


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    reason = HTTPStatus(status_code).phrase
    return render(request, "error.html", None, status_code, status_code=status_code, reason=reason, message=message)
