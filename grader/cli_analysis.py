"""Analysis of an assignment's submissions: wrong-answer groups (`groups`) and code similarity
(`similarity`, which a worker computes while the command shows its progress).

They run against the configured database (GRADER_DATABASE_URL) and act as an admin account
(`--by EMAIL`, by default the first admin), so the services' permission checks still apply.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from grader.cli_common import POLL_S, AssignmentArg, ByOpt, CourseOpt, acting_user, out, transaction
from grader.db.models import User
from grader.db.session import session_scope
from grader.services import answer_groups, courses, similarity
from grader.services.errors import ServiceError
from grader.terminal import fail, shown

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def groups(assignment: AssignmentArg, course: CourseOpt = None, by: ByOpt = None) -> None:
    """Wrong-answer groups: students whose submissions that count gave the same wrong answer, largest first."""
    with transaction() as db:
        target = courses.find_assignment(db, assignment, course)
        found = answer_groups.wrong_answer_groups(db, acting_user(db, by), target)
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
            out.print(shown("\n".join(lines)), soft_wrap=True)


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
        table.add_row(str(pair["id"]), f"{pair['score']:.2f}", shown(pair["student_a"]), str(pair["submission_a_id"]),
                      f"{pair['similarity_a']:.2f}", shown(pair["student_b"]), str(pair["submission_b_id"]),
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
                fail(f"similarity run {run.id} failed: {state['error'] or ''}", status=1)
            out.print(f"compared {state['submissions']} submission(s)")
            _print_pairs(similarity.list_pairs(db, operator, run.id), threshold)
        except ServiceError as exc:
            fail(exc.message)
