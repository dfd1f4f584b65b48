"""What the `grader` command says when it fails for a reason that is the operator's to fix, not a
bug: a setting out of its range, a database it cannot use, a migration revision that does not
exist. The entry point (grader.cli) imports this only once a command has failed, so that a command
that succeeds loads no database code it does not need."""

from __future__ import annotations

from alembic.util import CommandError
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from grader.config import Settings, get_settings


def explain(exc: Exception) -> str | None:
    """The line for `error: ...` that says what to fix; None for an exception that is a bug."""
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return "; ".join(_setting_problem(error) for error in exc.errors())
    if isinstance(exc, OperationalError):
        url = make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)
        return f"cannot use the database {url}: {' '.join(str(exc.orig).split())}"
    if isinstance(exc, CommandError):
        return f"cannot migrate the database: {exc}"
    return None


def _setting_problem(error: ErrorDetails) -> str:
    """One wrong setting, named by its variable; never its value, which may be a secret."""
    message = error["msg"].removeprefix("Value error, ")  # a model validator's message names its variables
    if not error["loc"]:
        return message
    variable = Settings.model_config.get("env_prefix", "") + "_".join(map(str, error["loc"])).upper()
    return f"invalid setting {variable}: {message}"
