"""The `grader` command. Its commands live in modules each imported only when needed: the grading
commands load torch (seconds), the operators' and the course commands the database, the students'
commands neither. So `grader --help`, `grader submit` or `grader scores` never import torch."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click  # Typer's own copy of click, which its groups and commands are built on
from typer.core import TyperCommand, TyperGroup

from grader.terminal import fail


@dataclass(frozen=True)
class Lazy:
    """A command of `module`'s Typer app `app` (the attribute of that name), listed by `grader --help`
    with `summary` (its docstring's first paragraph) without importing `module`."""

    module: str
    summary: str
    app: str = "app"


@dataclass(frozen=True)
class LazyCommands:
    """A group of lazy commands from several modules: running one imports only its own module."""

    summary: str
    commands: dict[str, Lazy]


LAZY_COMMANDS: dict[str, Lazy | LazyCommands] = {
    "grade": Lazy("grader.cli_grading", "Grade one submission; exit 0 whatever the score, non-zero only if the "
                                        "grader failed."),
    # `rubric check` grades the reference (torch); `rubric publish` needs only the database.
    "rubric": LazyCommands("Rubric authoring and publishing.", {
        "check": Lazy("grader.cli_grading", "Validate a rubric and grade its reference solution, which must earn "
                                            "every auto point; prove that each of its misconceptions fails, and is "
                                            "named on, every case it is used for and that the reference matches "
                                            "none.", "rubric_app"),
        "publish": Lazy("grader.cli_grades", "Publish the rubric folder on disk as the version the assignment is "
                                              "graded with; prints the diff.", "rubric_app"),
    }),
    "sandbox": Lazy("grader.cli_grading", "The sandbox that runs student code."),
    "login": Lazy("grader.client.commands", "Log in to a grader server and keep its API token for the other "
                                            "student commands."),
    "submit": Lazy("grader.client.commands", "Upload a submission, wait for its grading and show its feedback."),
    "submissions": Lazy("grader.client.commands", "Your submissions to an assignment, newest first, with their "
                                                  "scores."),
}
# Every other command is an operator's, from these modules (regrade, scores, ...; groups, similarity;
# users, tokens, db, ...; extensions, grace; courses, enrol, roster, assignments, ...): the database
# code they load is quick to import, and `grader --help` lists whatever they define, in this order.
SERVICE_MODULES = ("grader.cli_grades", "grader.cli_analysis", "grader.cli_accounts", "grader.cli_late",
                   "grader.cli_courses")
# Says what an operator fixes when a command fails for a setting, the database or a migration.
ERRORS_MODULE = "grader.cli_errors"


@functools.cache
def commands_of(module: str, app: str = "app") -> dict[str, _click.Command]:
    """The commands of `module`'s Typer app `app`, by name (importing `module`)."""
    return dict(typer.main.get_group(getattr(importlib.import_module(module), app)).commands)


class LazyGroup(TyperGroup):
    """Lists every command, but imports a lazy command's module only when that command runs; the
    others come from `eager` modules. The top-level command is one (Typer makes it with the defaults)."""

    def __init__(self, *, lazy: dict[str, Lazy | LazyCommands] | None = None,
                 eager: tuple[str, ...] = SERVICE_MODULES, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.lazy = LAZY_COMMANDS if lazy is None else lazy
        self.eager = eager

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*self.lazy, *(name for module in self.eager for name in commands_of(module))]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """What `--help` lists: a stand-in for a lazy command."""
        if cmd_name in self.lazy:
            return TyperCommand(cmd_name, help=self.lazy[cmd_name].summary)
        return next((commands_of(module)[cmd_name] for module in self.eager if cmd_name in commands_of(module)), None)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        """The command that runs: a lazy one is imported now (a group of them, its command then)."""
        if args and args[0] in self.lazy:
            name, lazy = args[0], self.lazy[args[0]]
            if isinstance(lazy, LazyCommands):
                return name, LazyGroup(name=name, help=lazy.summary, no_args_is_help=True, lazy=dict(lazy.commands),
                                       eager=()), args[1:]
            return name, commands_of(lazy.module, lazy.app)[name], args[1:]
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: _click.Context) -> Any:
        """Runs the command; a failure that is the operator's to fix ends as `error: ...`, exit 2,
        not as a traceback. What says so is imported only then, like a command's module."""
        try:
            return super().invoke(ctx)
        except (_click.ClickException, _click.exceptions.Exit, _click.exceptions.Abort):
            raise
        except Exception as exc:
            message = importlib.import_module(ERRORS_MODULE).explain(exc)
            if message is None:
                raise
            fail(message)


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Autograder for deep-learning courses."""
