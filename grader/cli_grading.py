"""The grading commands: grade a file, check a rubric, check the sandbox. They load the grading
stack (torch), so `grader.cli` imports this module only when one of them runs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.config import get_settings
from grader.engine import Engine
from grader.errors import GradingAborted, SandboxUnavailable
from grader.rubric.audit import audit_misconceptions
from grader.rubric_spec import Rubric, RubricError, load_rubric
from grader.scoring import GradeReport
from grader.terminal import fail, shown

app = typer.Typer(no_args_is_help=True, add_completion=False)
rubric_app = typer.Typer(help="Rubric authoring.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The sandbox that runs student code.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
app.add_typer(sandbox_app, name="sandbox")

err = Console(stderr=True)

# Where the commands get their engine: a new one per command, closed with its fork server when the
# command ends. Tests point it at a warm engine they keep, so a command needs no fork server of its own.
open_engine: Callable[[], AbstractContextManager[Engine]] = Engine


def resolve_rubric(assignment: str) -> Rubric:
    """An assignment id (`hw2` -> rubrics/hw2) or a rubric directory."""
    path = Path(assignment)
    directory = path if (path / "rubric.toml").is_file() else get_settings().rubrics_dir / assignment
    return load_rubric(directory)



def print_report(report: GradeReport, console: Console) -> None:
    # Title and caption each as wide as the table at least, so each wraps only where the terminal
    # is narrower than it, never in the middle of a table narrower than its title.
    title = f"{report.assignment}: {report.score:g} / {report.max_score:g} auto points"
    caption = f"rubric {report.rubric_hash}, {report.device}, {report.execution_time:.2f} s"
    table = Table(title=title, caption=caption, min_width=max(len(title), len(caption)))
    for column in ("question", "points", "status", "message"):
        table.add_column(column, overflow="fold")
    styles = {"passed": "green", "failed": "red", "manual": "dim"}
    for q in report.questions:
        points = f"{q.score:g}/{q.max_score:g}" if q.grading == "auto" else f"-/{q.max_score:g}"
        table.add_row(q.id, points, Text(q.status, styles[q.status]), shown(q.output))
    console.print(table)
    for warning in report.warnings:
        console.print(Text.assemble(("warning:", "yellow"), " isolation layer ", shown(warning)))


@app.command()
def grade(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="hw2.py or a .ipynb notebook")],
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="assignment id or rubric folder")],
    as_json: Annotated[bool, typer.Option("--json", help="print Gradescope results.json only")] = False,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (default: the rubric's)")] = None,
) -> None:
    """Grade one submission; exit 0 whatever the score, non-zero only if the grader failed."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        rubric = resolve_rubric(assignment)
        with open_engine() as engine:
            report = engine.grade(file.read_bytes(), file.name, rubric, device=device)
    except (RubricError, GradingAborted, SandboxUnavailable) as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(report.to_gradescope(), indent=2) + "\n")
    else:
        print_report(report, Console())


@rubric_app.command("check")
def rubric_check(directory: Annotated[Path, typer.Argument(help="the rubric folder, e.g. rubrics/hw2")]) -> None:
    """Validate a rubric and grade its reference solution, which must earn every auto point; prove
    that each of its misconceptions fails, and is named on, every case it is used for and that
    the reference matches none."""
    try:
        rubric = load_rubric(directory)
        with open_engine() as engine:
            report = engine.grade((rubric.directory / "reference.py").read_bytes(), "reference.py", rubric)
        audit = audit_misconceptions(rubric)
    except (RubricError, GradingAborted, SandboxUnavailable, FileNotFoundError) as exc:
        fail(str(exc))
    console = Console()
    print_report(report, console)
    if report.score != report.max_score:
        fail(f"the reference earns {report.score:g} of {report.max_score:g} auto points")
    if audit.problems:
        fail("misconceptions.py:\n" + "\n".join(f"- {problem}" for problem in audit.problems))
    console.print(f"[green]ok[/green]: {len(rubric.questions)} questions, {len(report.tests)} tests, "
                  f"{rubric.auto_points:g} auto + {rubric.total_points - rubric.auto_points:g} manual points; "
                  f"{audit.misconceptions} misconceptions used on {audit.cases} cases: the reference matches none, "
                  "and each is named wherever it fails")


@sandbox_app.command("check")
def sandbox_check(device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "cpu") -> None:
    """Start one sandbox and print which isolation layers are active on this machine; exit
    non-zero if sandboxes cannot run at all (the sandbox uid cannot use its directory)."""
    try:
        with open_engine() as engine:
            layers = engine.probe_layers(device)
    except SandboxUnavailable as exc:
        fail(str(exc))
    table = Table(title="sandbox isolation layers")
    table.add_column("layer")
    table.add_column("state", overflow="fold")
    for name, state in layers.items():
        table.add_row(name, f"[green]{state}[/]" if state.startswith("on") else f"[yellow]{state}[/]")
    Console().print(table)
    if not layers.get("workdir", "").startswith("on"):
        fail("sandboxes cannot read their own files, so grading is refused: check GRADER_SANDBOX_ROOT "
              "and the permissions of the directories above it")
    off = [name for name, state in layers.items() if not state.startswith("on")]
    if off:
        err.print(f"[yellow]warning:[/yellow] grading runs, but without: {', '.join(off)}")
