"""Grading operations: regrade, the gradebook (`scores`), the submission that counts (`choose`),
grading by hand (`manual-grade`); and `rubric publish`, which grader.cli lists under `grader rubric`
(`rubric_app`, not a command of `app`).

They run against the configured database (GRADER_DATABASE_URL) and act as an admin account
(`--by EMAIL`, by default the first admin), so the services' permission checks still apply.
Each command commits what it changed before it reports it, so nothing it printed is rolled back.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from grader.cli_common import POLL_S, AssignmentArg, ByOpt, CourseOpt, acting_user, err, out, transaction, utc_time
from grader.db.base import MAX_ID
from grader.db.models import RegradeBatch, User
from grader.db.session import session_scope
from grader.services import choices, courses, gradebook, manual_grades, publishing, regrades, rubrics, submissions
from grader.services.errors import ServiceError
from grader.services.late_credit import format_lateness
from grader.terminal import fail, shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
rubric_app = typer.Typer(help="Rubric publishing.", no_args_is_help=True)


def _watch_regrade(db: Session, operator: User, batch_id: int) -> None:
    """A live progress bar, polling the database until every item is done, failed or superseded."""
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed, {task.fields[superseded]} superseded"), TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        bar = None
        while True:
            db.rollback()  # end the previous read, so the next one sees the workers' commits
            state = regrades.regrade_progress(db, operator, batch_id)
            if bar is None:
                bar = progress.add_task(f"regrade {batch_id}", total=state["total"], failed=0, superseded=0)
            progress.update(bar, completed=state["done"] + state["failed"] + state["superseded"],
                            failed=state["failed"], superseded=state["superseded"])
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
        table.add_row(str(change["submission_id"]), shown(change["student"]), old, new)
    out.print(table)


def _report_regrade(db: Session, operator: User, batch: RegradeBatch, what: str, wait: bool) -> None:
    """Commit the new batch (sending its tasks), say so; with `wait`, show its progress, then the changed scores."""
    db.commit()
    out.print(f"regrade {batch.id}: {what} on rubric {batch.rubric_hash}")
    if wait:
        _watch_regrade(db, operator, batch.id)
        _print_diff(db, operator, batch.id)


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
            _report_regrade(db, operator, batch, target.slug, wait)
        except ServiceError as exc:
            fail(exc.message)


def _print_rubric_diff(status: publishing.RubricStatus) -> None:
    if status.diff is None:
        out.print(shown(f"no diff: {status.published_error}"), soft_wrap=True)
        return
    for line in status.diff.lines():
        out.print(shown(line), soft_wrap=True)
    if status.orphaned_grades:
        out.print(f"{status.orphaned_grades} manual grade(s) of removed questions are kept, but no longer counted",
                  soft_wrap=True)
    if status.grades_over_new_max:
        out.print(f"{status.grades_over_new_max} manual grade(s) above their question's new points count as those "
                  "points, marked ‡, until graded again on each submission's page", soft_wrap=True)


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
            published = publishing.publish(db, operator, target, regrade=regrade)
            db.commit()  # also a version made before versions were stored, when nothing else changed
            before = published.before
            if not before.changed:
                out.print(f"{target.slug}: the rubric on disk is the published version {target.rubric_hash}; "
                          "nothing to publish", soft_wrap=True)
                return
            _print_rubric_diff(before)
            out.print(f"{target.slug}: published rubric {target.rubric_hash} (was {before.published_hash})",
                      soft_wrap=True)
            if published.regrade is not None:
                _report_regrade(db, operator, published.regrade, f"{before.submissions} submission(s)", wait)
            elif before.submissions:
                out.print(f"{before.submissions} submission(s) keep their scores until regraded: "
                          f"grader regrade {target.slug} --all", soft_wrap=True)
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
    with transaction() as db:
        book = gradebook.gradebook(db, acting_user(db, by), courses.find_assignment(db, assignment, course))
    disk = rubrics.disk_rubric(book.assignment.rubric_id)
    if disk.hash != book.rubric_hash:
        now = f"is version {disk.hash}" if disk.rubric is not None else f"cannot be used ({disk.error})"
        err.print(shown(f"note: the rubric on disk {now}, not the published {book.rubric_hash}: "
                        f"`grader rubric publish {book.assignment.slug}` shows the changes and publishes them"),
                  soft_wrap=True)
    if as_csv:
        sys.stdout.write(gradebook.gradebook_csv(book, totals_only=totals))
        return
    table = Table(title=f"{book.assignment.slug}: rubric {book.rubric_hash} (per question: --csv)")
    for column in ("student", "submission", "status", "total", "late", "credit", "credited", "rubric"):
        table.add_column(column, no_wrap=column == "student")
    for row in book.rows:
        late = format_lateness(row.late_by) + (f" ({row.grace_days} grace)" if row.grace_days else "")
        table.add_row(
            shown(row.student.email),
            str(row.submission_id or "-"),
            row.status or "-",
            f"{row.total:g} / {book.max_score:g}" if row.total is not None else "-",
            (late or "-") + (" (extended)" if row.extended else ""),
            f"{row.credit_percent:g} %",
            f"{row.credited_total:g}" if row.credited_total is not None else "-",
            (row.rubric_hash or "-") + (" (stale)" if row.stale else ""),
        )
    out.print(table)


# Not `submissions choose`: `grader submissions` is the students' command (grader.client).
@app.command()
def choose(
    submission_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="the submission that counts for its student")],
    by: ByOpt = None,
) -> None:
    """Mark a submission as the one that counts (assignments that count `chosen`)."""
    with transaction() as db:
        viewer = acting_user(db, by)
        choice = choices.choose(db, viewer, submissions.get_submission(db, viewer, submission_id))
    out.print(f"submission {choice.submission_id} counts for user {choice.user_id}")


@app.command("manual-grade")
def manual_grade(
    submission_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="the submission")],
    question: Annotated[str, typer.Argument(help="the question's id, e.g. 1.2.1a")],
    score: Annotated[float | None, typer.Argument(help="points, from 0 to the question's")] = None,
    comment: Annotated[str, typer.Option(help="shown to the student with the score")] = "",
    remove: Annotated[bool, typer.Option("--remove", help="remove the question's manual grade instead "
                                                          "(one given by mistake)")] = False,
    by: ByOpt = None,
) -> None:
    """Grade one question of a submission by hand (instructors and TAs); it overrides an auto score."""
    if (score is None) != remove:
        fail("give either a score or --remove")
    with transaction() as db:
        grader = acting_user(db, by)
        submission = submissions.get_submission(db, grader, submission_id)
        if score is None:
            manual_grades.remove_manual_grade(db, grader, submission, question)
            done = "manual grade removed"
        else:
            grade = manual_grades.set_manual_grade(db, grader, submission, question, score, comment)
            done = f"{grade.score:g} points"
    out.print(shown(f"submission {submission_id} question {question}: {done} by {grader.email}"))
