"""Service commands for operators: regrade, scores, wrong-answer groups, similarity, users and their API
tokens, the reconciler and migrations.

They run against the configured database (GRADER_DATABASE_URL) and act as an admin account
(`--by EMAIL`, by default the first admin), so the services' permission checks still apply. Each
command commits what it changed before it reports it, so nothing it printed is rolled back.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from alembic import command
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import ApiToken, Role, User
from grader.db.session import alembic_config, session_scope
from grader.services import answer_groups, courses, gradebook, regrades, similarity, users
from grader.services.errors import ServiceError
from grader.services.reconcile import reconcile as reconcile_stuck

POLL_S = 0.5

app = typer.Typer(no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)

AssignmentArg = Annotated[str, typer.Argument(help="the assignment's slug, e.g. hw2")]
CourseOpt = Annotated[str | None, typer.Option("--course", help="course code, if several courses use the slug")]
ByOpt = Annotated[str | None, typer.Option("--by", help="act as this admin or instructor (default: the first admin)")]
ExpiresOpt = Annotated[
    int | None, typer.Option("--expires", help="days until the token expires (default: GRADER_TOKEN_TTL_DAYS)")
]


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _operator(db: Session, email: str | None) -> User:
    if email is not None:
        user = users.get_user_by_email(db, email)
        if user is None:
            _fail(f"no user {email}")
    else:
        user = db.scalar(select(User).where(User.role == Role.admin).order_by(User.id))
        if user is None:
            _fail("no admin user yet: create one with `grader users add EMAIL --role admin`, or pass --by")
    return user


def _watch_regrade(db: Session, operator: User, batch_id: int) -> None:
    """A live progress bar, polling the database until every item is done or failed."""
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        bar = None
        while True:
            db.rollback()  # end the previous read, so the next one sees the workers' commits
            state = regrades.regrade_progress(db, operator, batch_id)
            if bar is None:
                bar = progress.add_task(f"regrade {batch_id}", total=state["total"], failed=0)
            progress.update(bar, completed=state["done"] + state["failed"], failed=state["failed"])
            if state["status"] == "finished":
                return
            time.sleep(POLL_S)


def _print_diff(db: Session, operator: User, batch_id: int) -> None:
    changes = regrades.regrade_diff(db, operator, batch_id)
    if not changes:
        out.print("No score changed.")
        return
    table = Table(title=f"{len(changes)} changed scores")
    for column in ("submission", "student", "old", "new"):
        table.add_column(column)
    for change in changes:
        old = "-" if change["old_score"] is None else f"{change['old_score']:g}"
        new = "-" if change["new_score"] is None else f"{change['new_score']:g}"
        table.add_row(str(change["submission_id"]), change["student"], old, new)
    out.print(table)


@app.command()
def regrade(
    assignment: AssignmentArg,
    all_: Annotated[bool, typer.Option("--all", help="regrade every submission")] = False,
    since: Annotated[str | None, typer.Option(help="only submissions made since (ISO 8601, UTC if no zone)")] = None,
    reason: Annotated[str, typer.Option(help="why; kept with the batch")] = "",
    course: CourseOpt = None,
    by: ByOpt = None,
    wait: Annotated[bool, typer.Option(help="show progress until done, then the changed scores")] = True,
) -> None:
    """Regrade an assignment's submissions with the rubric now on disk."""
    if all_ == (since is not None):
        _fail("pass exactly one of --all or --since")
    try:
        since_at = datetime.fromisoformat(since) if since is not None else None
    except ValueError:
        _fail(f"--since {since!r} is not an ISO 8601 date or time")
    if since_at is not None and since_at.tzinfo is None:
        since_at = since_at.replace(tzinfo=UTC)
    with session_scope() as db:
        try:
            operator = _operator(db, by)
            target = courses.find_assignment(db, assignment, course)
            batch = regrades.start_regrade(db, operator, target, reason, since=since_at)
            db.commit()  # sends the tasks; the progress polls below each start a fresh read
            out.print(f"regrade {batch.id}: {target.slug} on rubric {batch.rubric_hash}")
            if wait:
                _watch_regrade(db, operator, batch.id)
                _print_diff(db, operator, batch.id)
        except ServiceError as exc:
            _fail(exc.message)


@app.command()
def scores(
    assignment: AssignmentArg,
    as_csv: Annotated[bool, typer.Option("--csv", help="Canvas-importable CSV on stdout")] = False,
    course: CourseOpt = None,
    by: ByOpt = None,
) -> None:
    """The gradebook: each student's latest submission, per question."""
    with session_scope() as db:
        try:
            book = gradebook.gradebook(db, _operator(db, by), courses.find_assignment(db, assignment, course))
        except ServiceError as exc:
            _fail(exc.message)
    if as_csv:
        sys.stdout.write(gradebook.gradebook_csv(book))
        return
    table = Table(title=f"{book.assignment.slug}: rubric {book.rubric_hash} (per question: --csv)")
    for column in ("student", "submission", "status", "total", "rubric"):
        table.add_column(column)
    for row in book.rows:
        graded = row.rubric_hash is not None
        table.add_row(
            row.student.email,
            str(row.submission_id or "-"),
            row.status or "-",
            f"{row.total:g} / {book.max_score:g}" if graded else "-",
            (row.rubric_hash or "-") + (" (stale)" if row.stale else ""),
        )
    out.print(table)


@app.command()
def groups(assignment: AssignmentArg, course: CourseOpt = None, by: ByOpt = None) -> None:
    """Wrong-answer groups: students whose latest submissions gave the same wrong answer, largest first."""
    with session_scope() as db:
        try:
            target = courses.find_assignment(db, assignment, course)
            found = answer_groups.wrong_answer_groups(db, _operator(db, by), target)
        except ServiceError as exc:
            _fail(exc.message)
        # One block per group, printed as is: case names look like markup ("[L9-K3]"), and a table would fold them.
        out.print(f"{target.slug}: {len(found)} wrong-answer group(s), largest first", markup=False, highlight=False)
        for group in found:
            key = group.key
            lines = [
                f"\n{group.size} student(s) · {key.question_id} · {key.case_name} · {key.function}() · "
                f"{group.misconception or 'unnamed'} · answer {key.signature}",
                f"  example: submission {group.example_submission_id}",
                f"  students: {', '.join(member.student.email for member in group.members)}",
                f"  feedback: {group.feedback.text if group.feedback else '-'}",
            ]
            out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _watch_similarity(db: Session, operator: User, run_id: int) -> similarity.SimilarityProgress:
    """A live progress bar until the run is finished or failed; its last progress."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out) as bar:
        task = bar.add_task(f"similarity run {run_id}", total=None)
        while True:
            db.rollback()  # end the previous read, so the next one sees the worker's commits
            state = similarity.run_progress(db, operator, run_id)
            bar.update(task, completed=state["done"], total=state["total"] or None,
                       description=f"similarity run {run_id} ({state['status']})")
            if state["status"] in ("finished", "failed"):
                return state
            time.sleep(POLL_S)


def _print_pairs(pairs: list[similarity.PairSummary], threshold: float) -> None:
    if not pairs:
        out.print(f"No pair reached the threshold of {threshold:g}.")
        return
    table = Table(title=f"{len(pairs)} pair(s) at or above {threshold:g} (side by side: the Similarity page)")
    for column in ("pair", "score", "student A", "submission A", "A shares", "student B", "submission B", "B shares"):
        table.add_column(column, justify="left" if column.startswith("student") else "right",
                         no_wrap=column.startswith("student"))
    for pair in pairs:
        table.add_row(str(pair["id"]), f"{pair['score']:.2f}", pair["student_a"], str(pair["submission_a_id"]),
                      f"{pair['similarity_a']:.2f}", pair["student_b"], str(pair["submission_b_id"]),
                      f"{pair['similarity_b']:.2f}")
    out.print(table)


@app.command("similarity")
def similarity_command(
    assignment: AssignmentArg,
    threshold: Annotated[float, typer.Option(help="list pairs in which either file shares this share of its code")]
    = similarity.DEFAULT_THRESHOLD,
    course: CourseOpt = None,
    by: ByOpt = None,
) -> None:
    """Compare every student's latest submission with every other's (a worker does it); print the similar pairs."""
    with session_scope() as db:
        try:
            operator = _operator(db, by)
            run = similarity.start_run(db, operator, courses.find_assignment(db, assignment, course), threshold)
            db.commit()
            out.print(f"similarity run {run.id}: {assignment}, threshold {threshold:g}")
            state = _watch_similarity(db, operator, run.id)
            if state["status"] == "failed":
                err.print(f"[red]error:[/red] similarity run {run.id} failed: {escape(state['error'] or '')}")
                raise typer.Exit(1)
            out.print(f"compared {state['submissions']} submission(s)")
            _print_pairs(similarity.list_pairs(db, operator, run.id), threshold)
        except ServiceError as exc:
            _fail(exc.message)


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
    with session_scope() as db:
        try:
            user = users.create_user(db, email, name, role, password)
            issued = users.create_token(db, user, "cli", expires) if token else None
        except ServiceError as exc:
            _fail(exc.message)
        db.commit()  # the user and its token together, or neither
        out.print(f"created {user.role} {user.email} (id {user.id})")
        if issued is not None:
            _print_token(user, *issued)


def _print_token(user: User, token: str, row: ApiToken) -> None:
    out.print(f"API token {row.id} for {user.email}, expires {row.expires_at:%Y-%m-%d %H:%M UTC}")
    out.print(f"API token (shown once): {token}", soft_wrap=True)  # never broken across lines


def _user(db: Session, email: str) -> User:
    user = users.get_user_by_email(db, email)
    if user is None:
        _fail(f"no user {email}")
    return user


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="the token's owner")],
    label: Annotated[str, typer.Option(help="a name to recognise the token by")] = "cli",
    expires: ExpiresOpt = None,
) -> None:
    """Issue an API token for a user (also for accounts without a password) and print it."""
    with session_scope() as db:
        try:
            owner = _user(db, email)
            token, row = users.create_token(db, owner, label, expires)
        except ServiceError as exc:
            _fail(exc.message)
        db.commit()
        _print_token(owner, token, row)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="only this user's tokens")] = None,
    by: ByOpt = None,
) -> None:
    """API tokens, newest first (their secrets are never stored, so never shown)."""
    with session_scope() as db:
        try:
            tokens = users.list_tokens(db, _operator(db, by), _user(db, user) if user is not None else None)
        except ServiceError as exc:
            _fail(exc.message)
        now = utcnow()
        table = Table(title=f"{len(tokens)} API token(s)")
        for column in ("id", "user", "label", "created", "expires (UTC)"):
            table.add_column(column, no_wrap=column in ("id", "user"))
        for token in tokens:
            expires = f"{token.expires_at:%Y-%m-%d %H:%M}" + (" (expired)" if token.expires_at <= now else "")
            table.add_row(str(token.id), token.user.email, token.label, f"{token.created_at:%Y-%m-%d}", expires)
        out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_ids: Annotated[list[int], typer.Argument(help="ids, as `grader tokens list` shows them")],
    by: ByOpt = None,
) -> None:
    """Revoke API tokens: they stop working at once."""
    with session_scope() as db:
        try:
            operator = _operator(db, by)
            for token_id in token_ids:
                users.revoke_token(db, operator, token_id)
                db.commit()  # each one as it is reported: a later unknown id undoes nothing printed
                out.print(f"revoked API token {token_id}")
        except ServiceError as exc:
            _fail(exc.message)


@app.command()
def reconcile(
    older_than: Annotated[
        float | None, typer.Option(help="seconds without progress (default: GRADER_RECONCILE_AFTER_S)")
    ] = None,
    loop: Annotated[bool, typer.Option(help="keep running, every GRADER_RECONCILE_INTERVAL_S seconds")] = False,
) -> None:
    """Send stuck submissions (queued or running without progress) to the workers again."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = get_settings()
    threshold = settings.reconcile_after_s if older_than is None else older_than
    while True:
        with session_scope() as db:
            ids = reconcile_stuck(db, threshold)
            db.commit()  # sends them
        out.print(f"re-enqueued {len(ids)} submission(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
        if not loop:
            return
        time.sleep(settings.reconcile_interval_s)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Migrate the database up (to the newest schema by default); at the newest, create the first admin
    from GRADER_ADMIN_EMAIL and GRADER_ADMIN_PASSWORD if set and no admin exists yet."""
    settings = get_settings()
    command.upgrade(alembic_config(settings.resolved_database_url), revision)
    if revision == "head" and settings.admin_email:
        with session_scope() as db:
            try:
                admin = users.bootstrap_admin(db, settings.admin_email, settings.admin_password.get_secret_value())
            except ServiceError as exc:
                _fail(f"GRADER_ADMIN_EMAIL: {exc.message}")
            db.commit()
        if admin is not None:
            out.print(f"created the first admin, {admin.email} (id {admin.id})")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision, e.g. -1 or base")] = "-1") -> None:
    """Migrate the database down (one revision by default)."""
    command.downgrade(alembic_config(get_settings().resolved_database_url), revision)
