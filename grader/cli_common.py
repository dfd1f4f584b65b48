"""What the service commands share: the consoles, the transaction a command runs in, the account a
command acts as (`--by EMAIL`, by default the first admin), so that the services' permission checks
apply to the command line too, and the arguments several command modules take."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Role, User
from grader.db.session import session_scope
from grader.services import users
from grader.services.courses import in_utc
from grader.services.errors import ServiceError
from grader.terminal import fail

out = Console()
err = Console(stderr=True)

ByOpt = Annotated[str | None, typer.Option("--by", help="act as this admin or instructor (default: the first admin)")]
AssignmentArg = Annotated[str, typer.Argument(help="the assignment's slug, e.g. hw2")]
CourseOpt = Annotated[str | None, typer.Option("--course", help="course code, if several courses use the slug")]

POLL_S = 0.5  # how often a command watching the workers' progress reads it again


@contextmanager
def transaction() -> Iterator[Session]:
    """A session whose work is committed once, at the end, so a command changes all it meant to or
    nothing; a service's refusal is `error: ...`, exit 2 (session_scope rolls back on any exception)."""
    with session_scope() as db:
        try:
            yield db
            db.commit()
        except ServiceError as exc:
            fail(exc.message)


def user_named(db: Session, email: str) -> User:
    """The account with this email; an unknown one is `error: no user EMAIL`."""
    user = users.get_user_by_email(db, email)
    if user is None:
        fail(f"no user {email}")
    return user


def acting_user(db: Session, email: str | None) -> User:
    """The account named by --by, or the first admin."""
    if email is not None:
        return user_named(db, email)
    user = db.scalar(select(User).where(User.role == Role.admin).order_by(User.id))
    if user is None:
        fail("no admin user yet: create one with `grader users add EMAIL --role admin`, or pass --by")
    return user


def utc_time(text: str, option: str) -> datetime:
    """An ISO 8601 date or time from the command line, in UTC (UTC if it names no zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 date or time")
    try:
        return in_utc(moment)
    except ValueError as exc:
        fail(f"{option} {text!r} {exc}")
