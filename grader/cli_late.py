"""Late work: per-student due dates (`extensions grant|list|revoke`) and a course's grace days
(`grace set|ledger`).

They run against the configured database (GRADER_DATABASE_URL) and act as an admin account
(`--by EMAIL`, by default the first admin), so the services' permission checks still apply.
Each command commits what it changed before it reports it, so nothing it printed is rolled back.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from grader.cli_common import AssignmentArg, ByOpt, acting_user, out, transaction, user_named, utc_time
from grader.services import courses, extensions, grace
from grader.services.late_credit import format_lateness
from grader.terminal import shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
extensions_app = typer.Typer(help="Per-student due dates: grant, list, revoke.", no_args_is_help=True)
grace_app = typer.Typer(help="A course's grace days: set the budget, read the ledger.", no_args_is_help=True)
app.add_typer(extensions_app, name="extensions")
app.add_typer(grace_app, name="grace")

CodeArg = Annotated[str, typer.Argument(help="the course's code")]
EmailArg = Annotated[str, typer.Argument(help="the student's email")]


@extensions_app.command("grant")
def extensions_grant(
    code: CodeArg,
    slug: AssignmentArg,
    email: EmailArg,
    until: Annotated[str, typer.Option("--until", help="the student's due date: ISO 8601, UTC if no zone")],
    reason: Annotated[str, typer.Option(help="kept with the extension")] = "",
    by: ByOpt = None,
) -> None:
    """Give one student a due date of their own (replacing an earlier one)."""
    due_at = utc_time(until, "--until")
    with transaction() as db:
        operator = acting_user(db, by)
        assignment = courses.find_assignment(db, slug, code)
        extension = extensions.grant_extension(db, operator, assignment, user_named(db, email).id, due_at, reason)
    out.print(shown(f"{email} is due {extension.due_at:%Y-%m-%d %H:%M} UTC for {code} {slug}"), soft_wrap=True)


@extensions_app.command("list")
def extensions_list(code: CodeArg, slug: AssignmentArg, by: ByOpt = None) -> None:
    """An assignment's extensions."""
    with transaction() as db:
        assignment = courses.find_assignment(db, slug, code)
        granted = extensions.extensions_of(db, acting_user(db, by), assignment)
        table = Table(title=f"{code} {slug}: {len(granted)} extension(s); due {assignment.due_at:%Y-%m-%d %H:%M} UTC"
                      if assignment.due_at else f"{code} {slug}: no due date")
        for column in ("student", "due (UTC)", "reason", "granted"):
            table.add_column(column, no_wrap=column == "student")
        for extension in granted:
            table.add_row(shown(extension.user.email), f"{extension.due_at:%Y-%m-%d %H:%M}", shown(extension.reason),
                          f"{extension.granted_at:%Y-%m-%d}")
    out.print(table)


@extensions_app.command("revoke")
def extensions_revoke(code: CodeArg, slug: AssignmentArg, email: EmailArg, by: ByOpt = None) -> None:
    """Take an extension back: the student is due with everyone else again."""
    with transaction() as db:
        operator = acting_user(db, by)
        extensions.revoke_extension(db, operator, courses.find_assignment(db, slug, code), user_named(db, email).id)
    out.print(shown(f"revoked the extension of {email} for {code} {slug}"))


@grace_app.command("set")
def grace_set(
    code: CodeArg, days: Annotated[int, typer.Argument(help="grace days per student, for the whole course")],
    by: ByOpt = None,
) -> None:
    """Set a course's grace days: late work spends them by itself, oldest assignment first."""
    with transaction() as db:
        grace.set_grace_days(db, acting_user(db, by), courses.find_course(db, code), days)
    out.print(f"{code}: {days} grace day(s) per student")


@grace_app.command("ledger")
def grace_ledger(code: CodeArg, by: ByOpt = None) -> None:
    """Which late submission spent grace days where, and what each student has left."""
    with transaction() as db:
        ledger = grace.grace_ledger(db, acting_user(db, by), courses.find_course(db, code))
        spent = Table(title=f"{code}: {ledger.course.grace_days} grace day(s) per student, spent oldest first")
        for column in ("student", "assignment", "submission", "late", "spent", "left"):
            spent.add_column(column, no_wrap=column == "student")
        for entry in ledger.entries:
            spent.add_row(shown(entry.student.email), entry.assignment.slug, str(entry.submission_id),
                          format_lateness(entry.late_by), str(entry.days), str(entry.left))
        left = Table(title="days left")
        for column in ("student", "left"):
            left.add_column(column, no_wrap=column == "student")
        for student, days in ledger.left:
            left.add_row(shown(student.email), str(days))
    out.print(spent)
    out.print(left)
