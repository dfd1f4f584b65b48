"""The `grader` command. Its commands live in modules each imported only when needed: the grading
commands load torch (seconds), the operators' and the course commands the database, the students'
commands neither. So `grader --help`, `grader submit` or `grader scores` never import torch."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import typer
from typer import _click  # Typer's own copy of click, which its groups and commands are built on
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A command of `module`'s Typer `app`, listed by `grader --help` with `summary` (its docstring's
    first sentence) without importing `module`."""

    module: str
    summary: str


LAZY_COMMANDS = {
    "grade": Lazy("grader.cli_grading", "Grade one submission; exit 0 whatever the score, non-zero only if the "
                                        "grader failed."),
    "rubric": Lazy("grader.cli_grading", "Rubric authoring."),
    "sandbox": Lazy("grader.cli_grading", "The sandbox that runs student code."),
    "login": Lazy("grader.client.commands", "Log in to a grader server and keep its API token for the other "
                                            "student commands."),
    "submit": Lazy("grader.client.commands", "Upload a submission, wait for its grading and show its feedback."),
    "submissions": Lazy("grader.client.commands", "Your submissions to an assignment, newest first, with their "
                                                  "scores."),
}
# Every other command is an operator's, from these modules (regrade, scores, users, ...; courses, enrol,
# roster, assignments, ...): the database code they load is quick to import, and `grader --help` lists
# whatever they define.
SERVICE_MODULES = ("grader.cli_service", "grader.cli_courses")


@functools.cache
def commands_of(module: str) -> dict[str, _click.Command]:
    """The commands of `module`'s Typer `app`, by name (importing `module`)."""
    return dict(typer.main.get_group(importlib.import_module(module).app).commands)


class LazyGroup(TyperGroup):
    """Lists every command, but imports a lazy command's module only when that command runs."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(name for module in SERVICE_MODULES for name in commands_of(module))]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """What `grader --help` lists: a stand-in for a lazy command."""
        if cmd_name in LAZY_COMMANDS:
            return TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name].summary)
        return next((commands_of(module)[cmd_name] for module in SERVICE_MODULES if cmd_name in commands_of(module)),
                    None)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        """The command that runs: a lazy one is imported now."""
        if args and args[0] in LAZY_COMMANDS:
            return args[0], commands_of(LAZY_COMMANDS[args[0]].module)[args[0]], args[1:]
        return super().resolve_command(ctx, args)


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Autograder for deep-learning courses."""
