"""Service commands for operators: extensions, grace days, the submission that counts, grading by
hand, regrade, scores, wrong-answer groups, similarity, users and their API tokens, the reconciler
and migrations; and `rubric publish`, which grader.cli lists under `grader rubric` (`rubric_app`,
not a command of `app`).

They run against the configured database (GRADER_DATABASE_URL) and act as an admin account
(`--by EMAIL`, by default the first admin), so the services' permission checks still apply. Each
command commits what it changed before it reports it, so nothing it printed is rolled back.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import typer
from alembic import command
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from grader.cli_common import ByOpt, acting_user, err, fail, out, utc_time
from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import ApiToken, User
from grader.db.session import alembic_config, session_scope
from grader.services import (
    answer_groups,
    choices,
    courses,
    extensions,
    grace,
    gradebook,
    manual_grades,
    publishing,
    regrades,
    rubrics,
    similarity,
    submissions,
    users,
)
from grader.services.errors import ServiceError
from grader.services.late_credit import format_lateness
from grader.services.reconcile import reconcile as reconcile_stuck
from grader.web.deps import MAX_ID

POLL_S = 0.5

app = typer.Typer(no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
extensions_app = typer.Typer(help="Per-student due dates: grant, list, revoke.", no_args_is_help=True)
grace_app = typer.Typer(help="A course's grace days: set the budget, read the ledger.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(db_app, name="db")
app.add_typer(extensions_app, name="extensions")
app.add_typer(grace_app, name="grace")
rubric_app = typer.Typer(help="Rubric publishing.", no_args_is_help=True)

AssignmentArg = Annotated[str, typer.Argument(help="the assignment's slug, e.g. hw2")]
CourseOpt = Annotated[str | None, typer.Option("--course", help="course code, if several courses use the slug")]
ExpiresOpt = Annotated[
    int | None, typer.Option("--expires", help="days until the token expires (default: GRADER_TOKEN_TTL_DAYS)")
]
CodeArg = Annotated[str, typer.Argument(help="the course's code")]
SlugArg = Annotated[str, typer.Argument(help="the assignment's slug, e.g. hw2")]
EmailArg = Annotated[str, typer.Argument(help="the student's email")]


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
        fail("pass exactly one of --all or --since")
    since_at = utc_time(since, "--since") if since is not None else None
    with session_scope() as db:
        try:
            operator = acting_user(db, by)
            target = courses.find_assignment(db, assignment, course)
            batch = regrades.start_regrade(db, operator, target, reason, since=since_at)
            db.commit()  # sends the tasks; the progress polls below each start a fresh read
            out.print(f"regrade {batch.id}: {target.slug} on rubric {batch.rubric_hash}")
            if wait:
                _watch_regrade(db, operator, batch.id)
                _print_diff(db, operator, batch.id)
        except ServiceError as exc:
            fail(exc.message)


def _print_rubric_diff(status: publishing.RubricStatus) -> None:
    if status.diff is None:
        out.print(f"no diff: {status.published_error}", markup=False, highlight=False, soft_wrap=True)
        return
    for line in status.diff.lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if status.orphaned_grades:
        out.print(f"{status.orphaned_grades} manual grade(s) of removed questions are kept, but no longer counted",
                  soft_wrap=True)


@rubric_app.command("publish")
def rubric_publish(
    assignment: AssignmentArg,
    course: CourseOpt = None,
    regrade: Annotated[bool, typer.Option("--regrade", help="then regrade every submission with it")] = False,
    by: ByOpt = None,
    wait: Annotated[bool, typer.Option(help="with --regrade: show progress, then the changed scores")] = True,
) -> None:
    """Publish the rubric folder on disk as the version the assignment is graded with; prints the diff."""
    with session_scope() as db:
        try:
            operator = acting_user(db, by)
            target = courses.find_assignment(db, assignment, course)
            before = publishing.publish(db, operator, target)
            db.commit()  # also a version made before versions were stored, when nothing else changed
            if not before.changed:
                out.print(f"{target.slug}: the rubric on disk is the published version {target.rubric_hash}; "
                          "nothing to publish", soft_wrap=True)
                return
            _print_rubric_diff(before)
            out.print(f"{target.slug}: published rubric {target.rubric_hash} (was {before.published_hash})",
                      soft_wrap=True)
            if not before.submissions:
                return
            if not regrade:
                out.print(f"{before.submissions} submission(s) keep their scores until regraded: "
                          f"grader regrade {target.slug} --all", soft_wrap=True)
                return
            batch = regrades.start_regrade(db, operator, target, f"rubric {target.rubric_hash} published")
            db.commit()
            out.print(f"regrade {batch.id}: {before.submissions} submission(s) on rubric {batch.rubric_hash}")
            if wait:
                _watch_regrade(db, operator, batch.id)
                _print_diff(db, operator, batch.id)
        except ServiceError as exc:
            fail(exc.message)


@app.command()
def scores(
    assignment: AssignmentArg,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout: per question, lateness and credit")] = False,
    totals: Annotated[bool, typer.Option("--totals", help="with --csv: only the credited total, for Canvas")] = False,
    course: CourseOpt = None,
    by: ByOpt = None,
) -> None:
    """The gradebook: each student's submission that counts, its lateness and credited total."""
    with session_scope() as db:
        try:
            book = gradebook.gradebook(db, acting_user(db, by), courses.find_assignment(db, assignment, course))
        except ServiceError as exc:
            fail(exc.message)
    disk = rubrics.disk_rubric(book.assignment.rubric_id)
    if disk.hash != book.rubric_hash:
        now = f"is version {disk.hash}" if disk.rubric is not None else f"cannot be used ({disk.error})"
        err.print(f"note: the rubric on disk {now}, not the published {book.rubric_hash}: "
                  f"`grader rubric publish {book.assignment.slug}` shows the changes and publishes them",
                  markup=False, highlight=False, soft_wrap=True)
    if as_csv:
        sys.stdout.write(gradebook.gradebook_csv(book, totals_only=totals))
        return
    table = Table(title=f"{book.assignment.slug}: rubric {book.rubric_hash} (per question: --csv)")
    for column in ("student", "submission", "status", "total", "late", "credit", "credited", "rubric"):
        table.add_column(column, no_wrap=column == "student")
    for row in book.rows:
        graded = row.rubric_hash is not None
        late = format_lateness(row.late_by) + (f" ({row.grace_days} grace)" if row.grace_days else "")
        table.add_row(
            row.student.email,
            str(row.submission_id or "-"),
            row.status or "-",
            f"{row.total:g} / {book.max_score:g}" if graded else "-",
            (late or "-") + (" (extended)" if row.extended else ""),
            f"{row.credit_percent:g} %",
            f"{row.credited_total:g}" if row.credited_total is not None else "-",
            (row.rubric_hash or "-") + (" (stale)" if row.stale else ""),
        )
    out.print(table)


@extensions_app.command("grant")
def extensions_grant(
    code: CodeArg,
    slug: SlugArg,
    email: EmailArg,
    until: Annotated[str, typer.Option("--until", help="the student's due date: ISO 8601, UTC if no zone")],
    reason: Annotated[str, typer.Option(help="kept with the extension")] = "",
    by: ByOpt = None,
) -> None:
    """Give one student a due date of their own (replacing an earlier one)."""
    due_at = utc_time(until, "--until")
    with session_scope() as db:
        try:
            operator = acting_user(db, by)
            assignment = courses.find_assignment(db, slug, code)
            extension = extensions.grant_extension(db, operator, assignment, _user(db, email), due_at, reason)
            db.commit()
        except ServiceError as exc:
            fail(exc.message)
        out.print(f"{email} is due {extension.due_at:%Y-%m-%d %H:%M} UTC for {code} {slug}", soft_wrap=True)


@extensions_app.command("list")
def extensions_list(code: CodeArg, slug: SlugArg, by: ByOpt = None) -> None:
    """An assignment's extensions."""
    with session_scope() as db:
        try:
            assignment = courses.find_assignment(db, slug, code)
            granted = extensions.extensions_of(db, acting_user(db, by), assignment)
        except ServiceError as exc:
            fail(exc.message)
        table = Table(title=f"{code} {slug}: {len(granted)} extension(s); due {assignment.due_at:%Y-%m-%d %H:%M} UTC"
                      if assignment.due_at else f"{code} {slug}: no due date")
        for column in ("student", "due (UTC)", "reason", "granted"):
            table.add_column(column, no_wrap=column == "student")
        for extension in granted:
            table.add_row(extension.user.email, f"{extension.due_at:%Y-%m-%d %H:%M}", extension.reason,
                          f"{extension.granted_at:%Y-%m-%d}")
        out.print(table)


@extensions_app.command("revoke")
def extensions_revoke(code: CodeArg, slug: SlugArg, email: EmailArg, by: ByOpt = None) -> None:
    """Take an extension back: the student is due with everyone else again."""
    with session_scope() as db:
        try:
            operator = acting_user(db, by)
            extensions.revoke_extension(db, operator, courses.find_assignment(db, slug, code), _user(db, email))
            db.commit()
        except ServiceError as exc:
            fail(exc.message)
    out.print(f"revoked the extension of {email} for {code} {slug}")


@grace_app.command("set")
def grace_set(
    code: CodeArg, days: Annotated[int, typer.Argument(help="grace days per student, for the whole course")],
    by: ByOpt = None,
) -> None:
    """Set a course's grace days: late work spends them by itself, oldest assignment first."""
    with session_scope() as db:
        try:
            grace.set_grace_days(db, acting_user(db, by), courses.find_course(db, code), days)
            db.commit()
        except ServiceError as exc:
            fail(exc.message)
    out.print(f"{code}: {days} grace day(s) per student")


@grace_app.command("ledger")
def grace_ledger(code: CodeArg, by: ByOpt = None) -> None:
    """Which late submission spent grace days where, and what each student has left."""
    with session_scope() as db:
        try:
            ledger = grace.grace_ledger(db, acting_user(db, by), courses.find_course(db, code))
        except ServiceError as exc:
            fail(exc.message)
        spent = Table(title=f"{code}: {ledger.course.grace_days} grace day(s) per student, spent oldest first")
        for column in ("student", "assignment", "submission", "late", "spent", "left"):
            spent.add_column(column, no_wrap=column == "student")
        for entry in ledger.entries:
            spent.add_row(entry.student.email, entry.assignment.slug, str(entry.submission_id),
                          format_lateness(entry.late_by), str(entry.days), str(entry.left))
        out.print(spent)
        left = Table(title="days left")
        for column in ("student", "left"):
            left.add_column(column, no_wrap=column == "student")
        for student, days in ledger.left:
            left.add_row(student.email, str(days))
        out.print(left)


# Not `submissions choose`: `grader submissions` is the students' command (grader.client).
@app.command()
def choose(
    submission_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="the submission that counts for its student")],
    by: ByOpt = None,
) -> None:
    """Mark a submission as the one that counts (assignments that count `chosen`)."""
    with session_scope() as db:
        try:
            viewer = acting_user(db, by)
            choice = choices.choose(db, viewer, submissions.get_submission(db, viewer, submission_id))
            db.commit()
        except ServiceError as exc:
            fail(exc.message)
    out.print(f"submission {choice.submission_id} counts for user {choice.user_id}")


@app.command()
def groups(assignment: AssignmentArg, course: CourseOpt = None, by: ByOpt = None) -> None:
    """Wrong-answer groups: students whose latest submissions gave the same wrong answer, largest first."""
    with session_scope() as db:
        try:
            target = courses.find_assignment(db, assignment, course)
            found = answer_groups.wrong_answer_groups(db, acting_user(db, by), target)
        except ServiceError as exc:
            fail(exc.message)
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
            operator = acting_user(db, by)
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
            fail(exc.message)


@app.command("manual-grade")
def manual_grade(
    submission_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="the submission")],
    question: Annotated[str, typer.Argument(help="the question's id, e.g. 1.2.1a")],
    score: Annotated[float, typer.Argument(help="points, from 0 to the question's")],
    comment: Annotated[str, typer.Option(help="shown to the student with the score")] = "",
    by: ByOpt = None,
) -> None:
    """Grade one question of a submission by hand (instructors and TAs); it overrides an auto score."""
    with session_scope() as db:
        try:
            grader = acting_user(db, by)
            submission = submissions.get_submission(db, grader, submission_id)
            grade = manual_grades.set_manual_grade(db, grader, submission, question, score, comment)
            db.commit()
        except ServiceError as exc:
            fail(exc.message)
    out.print(f"submission {submission_id} question {grade.question_id}: {grade.score:g} points by {grader.email}")


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
            fail(exc.message)
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
        fail(f"no user {email}")
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
            fail(exc.message)
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
            tokens = users.list_tokens(db, acting_user(db, by), _user(db, user) if user is not None else None)
        except ServiceError as exc:
            fail(exc.message)
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
                fail(f"GRADER_ADMIN_EMAIL: {exc.message}")
            db.commit()
        if admin is not None:
            out.print(f"created the first admin, {admin.email} (id {admin.id})")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision, e.g. -1 or base")] = "-1") -> None:
    """Migrate the database down (one revision by default)."""
    command.downgrade(alembic_config(get_settings().resolved_database_url), revision)
