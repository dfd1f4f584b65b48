"""What the student commands print: the feedback table of the submission page and the list of
one's submissions. Every text from the server goes through `shown`, since some of it is what the
student's code printed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from grader.terminal import shown

STATUS_STYLES = {"queued": "yellow", "running": "yellow", "graded": "green", "failed": "red"}


def points(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def when(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_line(submission: dict[str, Any], feedback: dict[str, Any]) -> Text:
    """As the page's header, in two short lines (so neither wraps mid-phrase): the status, late and
    older-rubric marks and points; then the file and its upload time."""
    line = Text.assemble((f"submission {submission['id']}: ", "bold"),
                         (feedback["status"], STATUS_STYLES.get(feedback["status"], "")))
    if feedback["late"]:
        line.append(" late", "red")
    if feedback["stale"]:
        line.append(" (scored with an older rubric)", "yellow")
    line.append(f" · {points(feedback['score'])} / {points(feedback['max_score'])} points\n", "bold")
    line.append_text(shown(submission["filename"]))
    line.append(f", uploaded {when(submission['created_at'])}")
    return line


def _feedback_cell(question: dict[str, Any]) -> RenderableType:
    if question["grading"] == "manual":
        parts: list[RenderableType] = [
            Text("graded by hand" + (", not yet graded" if question["score"] is None else ""), "dim")
        ]
        if question["comment"]:
            parts.append(shown(question["comment"]))
    else:
        parts = [shown(question["feedback"]) if question["feedback"] else Text("—", "dim")]
    for note in question.get("group_feedback", []):  # absent from servers older than the field
        parts += [Text("from the course staff:", "bold"), shown(note)]
    if question["printed"]:
        parts += [Text("what the code printed here:", "dim"), shown(question["printed"])]
    return Group(*parts)


def feedback_table(detail: dict[str, Any]) -> Group:
    """The submission page for a terminal: its status line, one row per question the student may
    see (the server leaves out the others), what the code printed while being imported."""
    submission, feedback = detail["submission"], detail["feedback"]
    table = Table(show_lines=True)
    for column in ("question", "title", "score", "feedback"):
        table.add_column(column, overflow="fold", justify="right" if column == "score" else "left")
    for question in feedback["questions"]:
        table.add_row(
            shown(question["question_id"]), shown(question["title"]),
            f"{points(question['score'])} / {points(question['max_score'])}", _feedback_cell(question),
        )
    parts: list[RenderableType] = [status_line(submission, feedback)]
    if feedback["error"]:
        parts.append(Text.assemble(("grading failed: ", "red"), shown(feedback["error"])))
    parts.append(table)
    if feedback["student_output"]:
        parts += [Text("What your code printed while being imported:", "dim"), shown(feedback["student_output"])]
    return Group(*parts)


def submissions_table(slug: str, details: list[dict[str, Any]]) -> Table:
    table = Table(title=f"your submissions to {slug}", min_width=len(slug) + 25)
    for column in ("submission", "uploaded", "file", "status", "score"):
        table.add_column(column, overflow="fold", justify="right" if column == "score" else "left")
    for detail in details:
        submission, feedback = detail["submission"], detail["feedback"]
        status = Text(feedback["status"], STATUS_STYLES.get(feedback["status"], ""))
        if feedback["late"]:
            status.append(" late", "red")
        table.add_row(
            str(submission["id"]), when(submission["created_at"]), shown(submission["filename"]), status,
            f"{points(feedback['score'])} / {points(feedback['max_score'])}",
        )
    return table

