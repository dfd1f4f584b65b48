"""`grader login`, `grader submit`, `grader submissions`: the students' commands, for a terminal or a
notebook server's shell. They speak to the server's API with the token `grader login` keeps."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from grader.client import credentials
from grader.client.api import GraderApi, check_server
from grader.client.errors import ClientError
from grader.client.render import feedback_table, submissions_table
from grader.terminal import fail, shown

POLL_S = 1.0
FINAL = ("graded", "failed")
WAITING = {"queued": "queued: waiting for a grader", "running": "being graded"}

app = typer.Typer(no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)

AssignmentOpt = Annotated[str, typer.Option("--assignment", "-a", metavar="SLUG", help="the assignment, e.g. hw2")]
CourseOpt = Annotated[
    str | None, typer.Option("--course", metavar="CODE", help="the course's code, if several of yours have it")
]



def _refuse_plain_http(server: str) -> None:
    """A login saved by a client from before `check_server` refused plain http:// to another
    machine: its token must not go out unencrypted either."""
    try:
        check_server(server)
    except ClientError:
        https = "https://" + server.removeprefix("http://")
        raise ClientError(f"your login was saved for {server}, where plain http:// would send your token "
                          f"unencrypted: log in again with `grader login --server {https}`") from None


@contextmanager
def _api() -> Iterator[GraderApi]:
    """The server `grader login` chose, as the student it logged in; a ClientError ends the command."""
    try:
        saved = credentials.load()
        _refuse_plain_http(saved.server)
        api = GraderApi(saved.server, saved.token)
        try:
            yield api
        finally:
            api.close()
    except ClientError as exc:
        fail(exc.message)


@app.command()
def login(
    server: Annotated[str, typer.Option("--server", metavar="URL", help="the grader, e.g. https://grader.example.edu")],
    email: Annotated[str | None, typer.Option(metavar="EMAIL", help="your login (asked for if left out)")] = None,
) -> None:
    """Log in to a grader server and keep its API token for the other student commands.

    The password is asked for and never stored; the token goes to a file only you can read.
    """
    try:
        base = check_server(server)
        address = email or typer.prompt("Email")
        password = typer.prompt("Password", hide_input=True)
        api = GraderApi(base)
        try:
            token = api.issue_token(address, password, label=f"grader login on {socket.gethostname()}"[:100])
        finally:
            api.close()
        path = credentials.save(credentials.Credentials(
            server=base, email=address, token=token["access_token"], token_id=token["id"],
            expires_at=token["expires_at"],
        ))
    except ClientError as exc:
        fail(exc.message)
    out.print(Text.assemble("Logged in to ", base, " as ", shown(address),
                            f" (the token expires {token['expires_at'][:10]}, kept in {path})."))


def _wait_for_grading(api: GraderApi, submission_id: int) -> dict[str, Any]:
    """Poll until the submission is graded or failed, with a spinner saying where it stands."""
    started = time.monotonic()
    with err.status("uploaded") as spinner:
        while True:
            detail = api.submission(submission_id)
            status = detail["feedback"]["status"]
            if status in FINAL:
                return detail
            spinner.update(f"submission {submission_id} {WAITING.get(status, status)} "
                           f"({time.monotonic() - started:.0f} s)")
            time.sleep(POLL_S)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="your hw2.py or .ipynb notebook")],
    assignment: AssignmentOpt,
    course: CourseOpt = None,
    wait: Annotated[bool, typer.Option(help="wait for the grading and show the feedback")] = True,
) -> None:
    """Upload a submission, wait for its grading and show its feedback.

    Exits 0 once it is graded, whatever the score; 1 if grading failed; 2 if it was not accepted.
    """
    with _api() as api:
        target = api.find_assignment(assignment, course)
        accepted = api.upload(target["id"], file)
        out.print(f"Uploaded {file.name} to {target['slug']} ({target['course_code']}): submission {accepted['id']}.")
        if not wait:
            return
        try:
            detail = _wait_for_grading(api, accepted["id"])
        except KeyboardInterrupt:
            err.print(f"Stopped waiting; grading goes on. See it with `grader submissions -a {target['slug']}`.")
            raise typer.Exit(130) from None
    out.print(feedback_table(detail))
    if detail["feedback"]["status"] == "failed":
        raise typer.Exit(1)


@app.command()
def submissions(assignment: AssignmentOpt, course: CourseOpt = None) -> None:
    """Your submissions to an assignment, newest first, with their scores."""
    with _api() as api:
        target = api.find_assignment(assignment, course)
        me = api.me()
        details = [api.submission(row["id"]) for row in api.submissions(target["id"]) if row["user_id"] == me["id"]]
    if not details:
        out.print(f"No submissions to {target['slug']} yet: `grader submit FILE -a {target['slug']}`.")
        return
    out.print(submissions_table(target["slug"], details))
