"""The operators' commands: user accounts and their API tokens (`users`, `tokens`), the reconciler
that sends stuck submissions to the workers again (`reconcile`) and schema migrations (`db`).

They run against the configured database (GRADER_DATABASE_URL); `tokens list` and `tokens revoke`
act as an admin account (`--by EMAIL`, by default the first admin), so the services' permission
checks still apply. Each command commits what it changed before it reports it, so nothing it
printed is rolled back.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from grader.cli_common import ByOpt, acting_user, out, transaction, user_named
from grader.config import get_settings
from grader.db.base import MAX_ID, utcnow
from grader.db.models import ApiToken, User
from grader.db.session import downgrade_schema, session_scope, upgrade_schema
from grader.services import users
from grader.services.errors import ServiceError
from grader.services.reconcile import reconcile as reconcile_stuck
from grader.terminal import fail, shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(db_app, name="db")

# A century: more than any work waits, and a cutoff that far back is still a date.
MAX_OLDER_THAN_S = 100 * 365 * 86_400

log = logging.getLogger(__name__)

ExpiresOpt = Annotated[
    int | None, typer.Option("--expires", help="days until the token expires (default: GRADER_TOKEN_TTL_DAYS)")
]


@users_app.command("add")
def users_add(
    email: str,
    name: Annotated[str, typer.Option(help="display name")],
    role: Annotated[str, typer.Option(help="student, instructor or admin")],
    password: Annotated[str | None, typer.Option(help="for the login page (omit for token-only accounts)")] = None,
    token: Annotated[bool, typer.Option("--token", help="also issue an API token and print it")] = False,
    expires: ExpiresOpt = None,
) -> None:
    """Create a user."""
    with transaction() as db:  # the user and its token together, or neither
        user = users.create_user(db, email, name, role, password)
        issued = users.create_token(db, user, "cli", expires) if token else None
    out.print(shown(f"created {user.role} {user.email} (id {user.id})"))
    if issued is not None:
        _print_token(user, *issued)


def _print_token(user: User, token: str, row: ApiToken) -> None:
    out.print(shown(f"API token {row.id} for {user.email}, expires {row.expires_at:%Y-%m-%d %H:%M UTC}"))
    out.print(f"API token (shown once): {token}", soft_wrap=True)  # never broken across lines


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="the token's owner")],
    label: Annotated[str, typer.Option(help="a name to recognise the token by")] = "cli",
    expires: ExpiresOpt = None,
) -> None:
    """Issue an API token for a user (also for accounts without a password) and print it."""
    with transaction() as db:
        owner = user_named(db, email)
        token, row = users.create_token(db, owner, label, expires)
    _print_token(owner, token, row)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="only this user's tokens")] = None,
    by: ByOpt = None,
) -> None:
    """API tokens, newest first (their secrets are never stored, so never shown)."""
    with transaction() as db:
        tokens = users.list_tokens(db, acting_user(db, by), user_named(db, user) if user is not None else None)
        now = utcnow()
        table = Table(title=f"{len(tokens)} API token(s)")
        for column in ("id", "user", "label", "created", "expires (UTC)"):
            table.add_column(column, no_wrap=column in ("id", "user"))
        for token in tokens:
            expires = f"{token.expires_at:%Y-%m-%d %H:%M}" + (" (expired)" if token.expires_at <= now else "")
            table.add_row(str(token.id), shown(token.user.email), shown(token.label), f"{token.created_at:%Y-%m-%d}",
                          expires)
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_ids: Annotated[list[int], typer.Argument(min=1, max=MAX_ID, help="ids, as `grader tokens list` shows them")],
    by: ByOpt = None,
) -> None:
    """Revoke API tokens: they stop working at once."""
    with session_scope() as db:
        try:
            operator = acting_user(db, by)
            for token_id in token_ids:
                users.revoke_token(db, operator, token_id)
                db.commit()  # each one as it is reported: a later unknown id undoes nothing printed
                out.print(f"revoked API token {token_id}")
        except ServiceError as exc:
            fail(exc.message)


@app.command()
def reconcile(
    older_than: Annotated[
        float | None, typer.Option(help="seconds without progress (default: GRADER_RECONCILE_AFTER_S)")
    ] = None,
    loop: Annotated[bool, typer.Option(help="keep running, every GRADER_RECONCILE_INTERVAL_S seconds")] = False,
) -> None:
    """Send stuck submissions and similarity runs (queued or running without progress) to the workers again."""
    if older_than is not None and not 0 <= older_than <= MAX_OLDER_THAN_S:  # also refuses nan
        fail(f"--older-than must be from 0 to {MAX_OLDER_THAN_S:,} seconds (a century), not {older_than:g}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = get_settings()
    threshold = settings.reconcile_after_s if older_than is None else older_than
    if not loop:
        _reconcile_once(threshold)
        return
    while True:
        try:
            _reconcile_once(threshold)
        except Exception:  # as the beat it stands in for: the next round runs whatever this one met
            log.exception("reconcile failed; trying again in %g s", settings.reconcile_interval_s)
        time.sleep(settings.reconcile_interval_s)


def _reconcile_once(older_than_s: float) -> None:
    """One round of the reconciler, reported as it is sent."""
    with session_scope() as db:
        sent = reconcile_stuck(db, older_than_s)
        db.commit()  # sends them
    for ids, what in ((sent.submissions, "submission(s)"), (sent.similarity_runs, "similarity run(s)")):
        out.print(f"re-enqueued {len(ids)} {what}" + (f": {', '.join(map(str, ids))}" if ids else ""))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Migrate the database up (to the newest schema by default); at the newest, create the first admin
    from GRADER_ADMIN_EMAIL and GRADER_ADMIN_PASSWORD if set and no admin exists yet."""
    settings = get_settings()
    upgrade_schema(settings.resolved_database_url, revision)
    if revision == "head" and settings.admin_email:
        with session_scope() as db:
            try:
                admin = users.bootstrap_admin(db, settings.admin_email, settings.admin_password.get_secret_value())
            except ServiceError as exc:
                fail(f"GRADER_ADMIN_EMAIL: {exc.message}")
            db.commit()
        if admin is not None:
            out.print(shown(f"created the first admin, {admin.email} (id {admin.id})"))


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision, e.g. -1 or base")] = "-1") -> None:
    """Migrate the database down (one revision by default)."""
    downgrade_schema(get_settings().resolved_database_url, revision)
