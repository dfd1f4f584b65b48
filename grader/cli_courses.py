"""Commands that run a course: courses, enrolments and rosters, assignments and their settings.

`grader courses add|list|archive`, `grader enrol`, `grader drop`, `grader roster`, `grader invites`
and `grader assignments add|list|edit`; each acts as `--by EMAIL` (default: the first admin) through
the same services, and permission checks, as the pages and the API, and commits once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from grader.cli_common import AssignmentArg, ByOpt, acting_user, err, out, transaction, user_named, utc_time
from grader.db.base import MAX_ID
from grader.db.models import Assignment, CourseRole, Enrolment
from grader.services import assignments, courses, dashboard, invitations, roster
from grader.services.allowance import duration
from grader.services.late_rules import rules_of
from grader.services.spreadsheet import csv_text
from grader.terminal import fail, shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
courses_app = typer.Typer(help="Courses: add, list, archive.", no_args_is_help=True)
assignments_app = typer.Typer(help="A course's assignments: add, list, edit.", no_args_is_help=True)
app.add_typer(courses_app, name="courses")
app.add_typer(assignments_app, name="assignments")

CodeArg = Annotated[str, typer.Argument(help="the course code, e.g. DL-2026")]
NONE = "none"  # clears an optional setting in `assignments edit`
DueOpt = Annotated[str | None, typer.Option("--due", help="ISO 8601 (UTC if no zone), or none")]
LimitOpt = Annotated[str | None, typer.Option("--max-submissions", help="per student, or none (unlimited)")]
CooldownOpt = Annotated[str | None, typer.Option("--cooldown", help="seconds between a student's uploads, or none")]
ReleaseOpt = Annotated[
    str | None,
    typer.Option("--release", help="when after_due_date details are shown: ISO 8601, or none (at the due date)"),
]
LateCreditOpt = Annotated[str | None, typer.Option(
    "--late-credit", help="late windows: 2d=80,7d=50 is up to 2 days late 80 %, up to 7 days 50 % (units d, h, m); "
    "none for none")]
LateAfterOpt = Annotated[str | None, typer.Option(
    "--late-after", help="after the last window (the due date without windows): zero, reject, or full "
    "(without windows); windows default to zero")]
CountsOpt = Annotated[str | None, typer.Option("--counts", help="which submission counts: last, best or chosen")]
TitleOpt = Annotated[str | None, typer.Option("--title", help="default on add: the rubric's title")]


def _when(text: str, option: str) -> datetime | None:
    return None if text.lower() == NONE else utc_time(text, option)


def _count(text: str, option: str) -> int | None:
    if text.lower() == NONE:
        return None
    try:
        return int(text)
    except ValueError:
        fail(f"{option} {text!r} is not a whole number (or {NONE})")


def _changes(title: str | None, due: str | None, max_submissions: str | None, cooldown: str | None,
             release: str | None, late_credit: str | None, late_after: str | None, counts: str | None
             ) -> dict[str, Any]:
    """The AssignmentSettings fields an option was given for, parsed (the services check them)."""
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if due is not None:
        changes["due_at"] = _when(due, "--due")
    if max_submissions is not None:
        changes["max_submissions"] = _count(max_submissions, "--max-submissions")
    if cooldown is not None:
        changes["cooldown_s"] = _count(cooldown, "--cooldown")
    if release is not None:
        changes["release_at"] = _when(release, "--release")
    for name, value in (("late_credit", late_credit), ("late_after", late_after), ("counts", counts)):
        if value is not None:
            changes[name] = value
    return changes


def _rules(assignment: Assignment) -> str:
    return f"late work: {rules_of(assignment).describe()}; the {assignment.counts} submission counts"


@courses_app.command("add")
def courses_add(code: CodeArg, title: Annotated[str, typer.Option("--title", help="the course's title")],
                by: ByOpt = None) -> None:
    """Create a course (an instructor who creates one teaches it)."""
    with transaction() as db:
        course = courses.create_course(db, acting_user(db, by), code, title)
    out.print(shown(f"created course {course.code} (id {course.id}): {course.title}"))


@courses_app.command("list")
def courses_list(by: ByOpt = None) -> None:
    """The courses you are in (admins: all), with their people and assignments."""
    with transaction() as db:
        memberships = courses.courses_of(db, acting_user(db, by))
        table = Table(title=f"{len(memberships)} course(s)")
        for column in ("code", "title", "role", "students", "TAs", "instructors", "assignments", "archived"):
            table.add_column(column)
        for m in memberships:
            counts = roster.role_counts(db, m.course)
            archived = f"{m.course.archived_at:%Y-%m-%d}" if m.course.archived_at else ""
            table.add_row(m.course.code, shown(m.course.title), m.role, str(counts.get(CourseRole.student, 0)),
                          str(counts.get(CourseRole.ta, 0)), str(counts.get(CourseRole.instructor, 0)),
                          str(len(courses.assignments_of(db, m.course))), archived)
    out.print(table)


@courses_app.command("archive")
def courses_archive(code: CodeArg, by: ByOpt = None) -> None:
    """Freeze a course: no more uploads, enrolments or changes, late work included; scores stay readable."""
    with transaction() as db:
        course = courses.find_course(db, code)
        courses.archive_course(db, acting_user(db, by), course)
    out.print(f"archived {code}")


@courses_app.command("reopen")
def courses_reopen(code: CodeArg, by: ByOpt = None) -> None:
    """Undo archiving: the course takes uploads, enrolments and changes again."""
    with transaction() as db:
        course = courses.find_course(db, code)
        courses.reopen_course(db, acting_user(db, by), course)
    out.print(f"reopened {code}")


@app.command()
def enrol(
    code: CodeArg,
    email: Annotated[str | None, typer.Argument(help="one person's email (or --csv)")] = None,
    role: Annotated[str, typer.Option(help="student, ta or instructor")] = "student",
    name: Annotated[str, typer.Option(help="for a new account (default: the email)")] = "",
    csv: Annotated[Path | None, typer.Option("--csv", exists=True, dir_okay=False,
                                             help="a roster: email,name,role or Canvas's export")] = None,
    login_domain: Annotated[str | None, typer.Option(help="for Canvas SIS Login IDs without @: LOGIN@DOMAIN")] = None,
    by: ByOpt = None,
) -> None:
    """Enrol one person, or everyone a CSV roster names (all lines or none; again: no change).
    Accounts that do not exist are created."""
    if csv is not None and email is None:
        _import_roster(code, csv, login_domain, by)
    elif email is not None and csv is None:
        with transaction() as db:
            enrolment = roster.enrol(db, acting_user(db, by), courses.find_course(db, code), email, role, name)
            done = f"enrolled {enrolment.user.email} in {code} as {enrolment.role}"
        out.print(shown(done))
    else:
        fail("name one EMAIL or pass --csv FILE")


def _import_roster(code: str, csv: Path, login_domain: str | None, by: str | None) -> None:
    with transaction() as db:
        result = roster.import_roster(db, acting_user(db, by), courses.find_course(db, code), csv.read_bytes(),
                                      login_domain)
    out.print(shown(f"imported {csv.name} into {code}: {result.enrolled} enrolled, {result.changed} changed, "
                    f"{result.unchanged} unchanged; {result.accounts_created} new accounts"))
    for line in result.skipped:
        out.print(shown(f"skipped {line}"))


@app.command()
def drop(code: CodeArg, email: Annotated[str, typer.Argument(help="whom to drop")], by: ByOpt = None) -> None:
    """End someone's enrolment; their submissions and grades stay."""
    with transaction() as db:
        person = user_named(db, email)
        roster.drop(db, acting_user(db, by), courses.find_course(db, code), person.id)
    out.print(shown(f"dropped {email} from {code}"))


@app.command("roster")
def show_roster(
    code: CodeArg,
    as_csv: Annotated[bool, typer.Option("--csv", help="email,name,role on stdout (importable again)")] = False,
    by: ByOpt = None,
) -> None:
    """Everyone in the course, staff first."""
    with transaction() as db:
        course = courses.find_course(db, code)
        people = roster.roster(db, acting_user(db, by), course, limit=MAX_ID).enrolments
    if as_csv:
        sys.stdout.write(csv_text([["email", "name", "role"], *([e.user.email, e.user.name, e.role] for e in people)]))
        return
    out.print(_roster_table(code, people))


def _roster_table(code: str, people: Sequence[Enrolment]) -> Table:
    """Each email whole, since it tells people apart, and the rest folded rather than cut; Canvas's
    columns only where its roster filled them, as empty ones left names no room on 80 columns."""
    canvas = {header: column for header, column in (("section", [e.section for e in people]),
                                                    ("SIS user id", [e.sis_user_id for e in people]),
                                                    ("Canvas id", [e.canvas_id for e in people])) if any(column)}
    table = Table(title=f"{code}: {len(people)} people")
    table.add_column("email", no_wrap=True)
    for header in ("name", "role", *canvas):
        table.add_column(header, overflow="fold")
    for e, *ids in zip(people, *canvas.values(), strict=True):
        table.add_row(shown(e.user.email), shown(e.user.name), e.role, *(shown(i or "") for i in ids))
    return table


@app.command()
def invites(
    code: CodeArg,
    emails: Annotated[list[str] | None, typer.Argument(metavar="[EMAIL]...", help="people of the course (a reset "
                                                       "for those who have a password)")] = None,
    all_without_password: Annotated[bool, typer.Option("--all-without-password", help="everyone in the course "
                                                       "without a password (but you)")] = False,
    csv: Annotated[Path | None, typer.Option("--csv", dir_okay=False, help="write email,name,link to this file "
                                             "(only you can read it) instead of stdout")] = None,
    by: ByOpt = None,
) -> None:
    """One-time "set your password" links (email,name,link), each replacing the person's older link;
    they expire after GRADER_INVITE_TTL_DAYS and start with GRADER_PUBLIC_URL."""
    if all_without_password == bool(emails):
        fail("name EMAILs or pass --all-without-password")
    with transaction() as db:
        course = courses.find_course(db, code)
        issued = invitations.issue_invites(db, acting_user(db, by), course, None if all_without_password else emails)
        sheet = invitations.invites_csv(issued.invites)
        if csv is not None:  # written before the commit: a file that cannot be written issues no link
            _write_private(csv, sheet)
    for why in issued.skipped:
        err.print(shown(f"skipped {why}"), soft_wrap=True)
    if csv is None:
        sys.stdout.write(sheet)
        return
    expires = f", expiring {issued.invites[0].expires_at:%Y-%m-%d %H:%M} UTC" if issued.invites else ""
    out.print(shown(f"wrote {len(issued.invites)} invitation link(s) for {code} to {csv}{expires}"), soft_wrap=True)


def _write_private(path: Path, text: str) -> None:
    """The links are secrets: the file is its owner's alone, even one that was there before."""
    try:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


@assignments_app.command("add")
def assignments_add(
    code: CodeArg, slug: AssignmentArg,
    rubric: Annotated[str, typer.Option("--rubric", help="the rubric folder's name, e.g. hw2")],
    title: TitleOpt = None, due: DueOpt = None, max_submissions: LimitOpt = None, cooldown: CooldownOpt = None,
    release: ReleaseOpt = None, late_credit: LateCreditOpt = None, late_after: LateAfterOpt = None,
    counts: CountsOpt = None, by: ByOpt = None,
) -> None:
    """Create an assignment graded by a rubric folder."""
    settings = assignments.AssignmentSettings(**_changes(title, due, max_submissions, cooldown, release, late_credit,
                                                         late_after, counts))
    with transaction() as db:
        course = courses.find_course(db, code)
        made = assignments.create_assignment(db, acting_user(db, by), course, slug, rubric, settings)
        rules = _rules(made)
    out.print(shown(f"created {code} {made.slug} (id {made.id}): {made.title}, rubric {made.rubric_id} "
                    f"{made.rubric_hash}"))
    out.print(rules, soft_wrap=True)


@assignments_app.command("edit")
def assignments_edit(
    code: CodeArg, slug: AssignmentArg, title: TitleOpt = None, due: DueOpt = None, max_submissions: LimitOpt = None,
    cooldown: CooldownOpt = None, release: ReleaseOpt = None, late_credit: LateCreditOpt = None,
    late_after: LateAfterOpt = None, counts: CountsOpt = None, by: ByOpt = None,
) -> None:
    """Change the settings given; the others stay (a lower limit holds for later uploads; changed late
    rules show in the credited scores at once, without regrading)."""
    changes = _changes(title, due, max_submissions, cooldown, release, late_credit, late_after, counts)
    if not changes:
        fail("give a setting to change: --title, --due, --max-submissions, --cooldown, --release, --late-credit, "
             "--late-after or --counts")
    with transaction() as db:
        assignment = courses.find_assignment(db, slug, code)
        settings = replace(assignments.settings_of(assignment), **changes)
        assignments.update_assignment(db, acting_user(db, by), assignment, settings)
        rules = _rules(assignment)
    out.print(f"updated {code} {slug}: {', '.join(changes)}")
    out.print(rules, soft_wrap=True)


@assignments_app.command("list")
def assignments_list(code: CodeArg, by: ByOpt = None) -> None:
    """A course's assignments, their settings and where their grading stands."""
    with transaction() as db:
        progress = dashboard.course_progress(db, acting_user(db, by), courses.find_course(db, code))
    table = Table(title=f"{code}: {len(progress)} assignment(s)")
    for column in ("slug", "title", "rubric", "due (UTC)", "limit", "cooldown", "students", "submissions", "graded",
                   "failed", "queued"):
        table.add_column(column)
    for p in progress:
        a = p.assignment
        table.add_row(a.slug, shown(a.title), a.rubric_id, f"{a.due_at:%Y-%m-%d %H:%M}" if a.due_at else "-",
                      str(a.max_submissions or "-"), duration(a.cooldown_s) if a.cooldown_s else "-",
                      str(p.students), str(p.submissions), str(p.graded), str(p.failed), str(p.queued))
    out.print(table)
