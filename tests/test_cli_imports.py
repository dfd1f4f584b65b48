"""`grader` loads what a command needs and nothing more: help, the operators' commands and the
students' commands never import torch (seconds of CPU), the students' not even the database. Each
command whose imports are checked runs as a fresh `python` process that then reports which heavy
modules it imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from grader import cli
from tests.conftest import ROOT

GRADING = {"torch", "numpy", "pytest", "_pytest"}
DATABASE = {"sqlalchemy", "alembic", "celery"}
MARKER = "imported heavy modules:"

# Runs `grader ARGS` as the console script does, then prints which of the heavy modules it imported.
PROBE = f"""
import sys
from grader.cli import app
try:
    app(args=sys.argv[1:], prog_name="grader")
finally:
    heavy = {sorted(GRADING | DATABASE)!r}
    print({MARKER!r}, ",".join(name for name in heavy if name in sys.modules), file=sys.stderr)
"""


def run_grader(*args: str, data_dir: Path | None = None, stdin: str = "") -> tuple[subprocess.CompletedProcess[str],
                                                                                    set[str]]:
    """`grader ARGS` in a new process: its result and the heavy modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    if data_dir is not None:
        env["GRADER_DATA_DIR"] = str(data_dir)
    # Its own session: no controlling terminal, so a password prompt reads stdin.
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, start_new_session=True)
    report = done.stderr.rsplit(MARKER, 1)
    assert len(report) == 2, done.stderr
    return done, {name for name in report[1].strip().split(",") if name}


def test_help_lists_every_command_without_importing_torch() -> None:
    done, loaded = run_grader("--help")
    assert done.returncode == 0, done.stderr
    for name in (*cli.LAZY_COMMANDS, "regrade", "scores", "users", "tokens", "db", "courses", "enrol", "assignments"):
        assert f" {name} " in done.stdout, name
    assert not loaded & GRADING, loaded


def test_no_operator_command_is_hidden_by_a_lazy_one() -> None:
    """A lazy command is resolved first: an operator's command of the same name could never run."""
    for module in cli.SERVICE_MODULES:
        assert not set(cli.commands_of(module)) & set(cli.LAZY_COMMANDS), module


@pytest.mark.parametrize("command", ["login", "submit", "submissions"])
def test_student_commands_import_neither_torch_nor_the_database(command: str) -> None:
    done, loaded = run_grader(command, "--help")
    assert done.returncode == 0, done.stderr
    assert not loaded & (GRADING | DATABASE), loaded


def test_an_operator_command_runs_without_torch(tmp_path: Path) -> None:
    done, loaded = run_grader("db", "upgrade", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "grader.db").is_file()
    assert not loaded & GRADING, loaded


@pytest.mark.parametrize("args", [["--help"], ["grade", "--help"], ["submit", "--help"], ["login", "--help"],
                                  ["regrade", "--help"], ["users", "add", "--help"]])
def test_help_names_what_options_take_and_nothing_for_flags(
    grader_cli: Callable[..., Result], args: list[str]
) -> None:
    """Typer 0.27+ shows Python types instead (`--json <bool>`, `--course <str>`). Help text needs
    no process of its own: it runs in this one."""
    done = grader_cli(*args)
    assert done.exit_code == 0, done.stderr
    assert "<bool>" not in done.stdout and "<str>" not in done.stdout and "<int>" not in done.stdout, done.stdout
    assert "--help " in done.stdout and "Show this message" in done.stdout


def test_submit_help_names_its_values(grader_cli: Callable[..., Result]) -> None:
    lines = grader_cli("submit", "--help").stdout.splitlines()
    assert any("--assignment" in line and "-a" in line and "SLUG" in line for line in lines), lines
    assert any("--course" in line and "CODE" in line for line in lines), lines


def _listed(commands: dict[str, cli.Lazy | cli.LazyCommands]) -> Iterator[tuple[str, cli.Lazy]]:
    for name, lazy in commands.items():
        if isinstance(lazy, cli.LazyCommands):
            yield from _listed(dict(lazy.commands))
        else:
            yield name, lazy


def test_each_listed_summary_is_its_commands_own() -> None:
    """What `grader --help` lists without importing a command is what the command says of itself."""
    for name, lazy in _listed(cli.LAZY_COMMANDS):
        command = cli.commands_of(lazy.module, lazy.app)[name]
        assert command.help is not None
        assert " ".join(command.help.split("\n\n")[0].split()) == lazy.summary, name


def test_rubric_lists_both_its_commands_and_publish_runs_without_torch(tmp_path: Path) -> None:
    """`rubric check` grades (torch); `rubric publish` only reaches the database."""
    done, loaded = run_grader("rubric", "--help")
    assert done.returncode == 0, done.stderr
    assert " check " in done.stdout and " publish " in done.stdout
    assert not loaded & GRADING, loaded
    assert run_grader("db", "upgrade", data_dir=tmp_path)[0].returncode == 0
    done, loaded = run_grader("rubric", "publish", "hw2", data_dir=tmp_path)
    assert done.returncode == 2 and "error: no admin user yet" in done.stderr, done.stderr  # an empty database
    assert not loaded & GRADING, loaded
