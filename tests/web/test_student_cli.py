"""The student commands end to end: `grader login`, `submit` and `submissions` against the real
server on PostgreSQL + Redis, graded by a real Celery worker; and each failure they explain."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from grader import cli
from grader.client import credentials
from grader.client.credentials import FILE_NAME
from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import ApiToken
from grader.db.session import session_scope
from harness.servers import free_port
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE
from tests.test_cli_imports import DATABASE, GRADING, run_grader
from tests.web.support import PASSWORD, Klass, LiveServer, Person, api
from tests.web.test_auth_throttle import client_from, fresh_address, token_login

HIDDEN = "1.2.3d"  # visibility = "hidden"
AFTER_DUE = "1.1c.iv"  # visibility = "after_due_date"; the due date is a week away


class Student:
    """`grader ...` run in this process as one student, with a configuration directory of their own."""

    def __init__(self, server: LiveServer, person: Person, home: Path) -> None:
        self.server, self.person, self.config = server, person, home / "config"

    @property
    def credentials(self) -> Path:
        return self.config / "grader" / FILE_NAME

    def run(self, *args: str, stdin: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli.app, list(args), input=stdin, env={"XDG_CONFIG_HOME": str(self.config)},
                             catch_exceptions=False)

    def login(self, password: str = PASSWORD) -> Result:
        return self.run("login", "--server", self.server.url, stdin=f"{self.person.email}\n{password}\n")


@pytest.fixture
def klass(postgres_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(postgres_stack)


@pytest.fixture
def student(postgres_server_app: LiveServer, klass: Klass, tmp_path: Path) -> Student:
    return Student(postgres_server_app, klass.students[0], tmp_path)


@pytest.fixture
def homework(tmp_path: Path) -> Path:
    path = tmp_path / "hw2.py"
    path.write_bytes(REFERENCE)
    return path


def test_a_student_logs_in_submits_sees_the_feedback_and_lists_their_scores(
    student: Student, homework: Path, postgres_worker: WorkerProcess
) -> None:
    login = student.login()
    assert login.exit_code == 0, login.output
    assert "Logged in to" in login.stdout and student.person.email in login.stdout
    assert PASSWORD not in login.output
    assert stat.S_IMODE(student.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(student.credentials.parent.stat().st_mode) == 0o700

    submitted = student.run("submit", str(homework), "--assignment", "hw2")
    assert submitted.exit_code == 0, submitted.output
    assert "graded" in submitted.stdout and "29 / 42 points" in submitted.stdout, submitted.stdout
    assert "1.1a" in submitted.stdout and "All 2 checks passed." in submitted.stdout
    assert HIDDEN not in submitted.stdout and AFTER_DUE not in submitted.stdout  # the API left them out
    submission_id = submitted.stdout.split("submission ")[1].split(".")[0]

    listed = student.run("submissions", "-a", "hw2")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if f" {submission_id} " in line]
    assert "hw2.py" in row and "graded" in row and "29 / 42" in row


def test_logging_in_imports_neither_torch_nor_the_database(
    student: Student, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(student.config))
    done, loaded = run_grader("login", "--server", student.server.url,
                              stdin=f"{student.person.email}\n{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert student.credentials.is_file()
    assert not loaded & (GRADING | DATABASE), loaded


def test_no_login_a_wrong_password_and_an_unreachable_server_are_explained(student: Student, homework: Path) -> None:
    not_yet = student.run("submit", str(homework), "-a", "hw2")
    assert not_yet.exit_code == 2 and "not logged in: run `grader login --server URL` first" in not_yet.stderr

    wrong = student.login(password="not the password")
    assert wrong.exit_code == 2 and "error: wrong email or password" in wrong.stderr
    assert not student.credentials.exists()

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}"
        unreachable = student.run("login", "--server", nobody, stdin=f"{student.person.email}\n{PASSWORD}\n")
    assert unreachable.exit_code == 2
    assert f"cannot reach the grader at {nobody}" in " ".join(unreachable.stderr.split())


def test_an_expired_token_asks_the_student_to_log_in_again(student: Student, homework: Path) -> None:
    assert student.login().exit_code == 0
    token_id = json.loads(student.credentials.read_text())["token_id"]
    with session_scope() as db:  # make_klass pointed this process at the server's database
        db.get_one(ApiToken, token_id).expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
    expired = student.run("submit", str(homework), "-a", "hw2")
    assert expired.exit_code == 2
    message = " ".join(expired.stderr.split())
    assert f"your login to {student.server.url} has expired or was revoked" in message
    assert f"run `grader login --server {student.server.url}` again" in message


def test_a_token_file_others_can_read_is_refused(student: Student, homework: Path) -> None:
    assert student.login().exit_code == 0
    student.credentials.chmod(0o644)
    refused = student.run("submit", str(homework), "-a", "hw2")
    assert refused.exit_code == 2
    message = " ".join(refused.stderr.split())
    assert "can be read by other users (mode 644)" in message and "log in again with `grader login`" in message

    assert student.login().exit_code == 0  # a new login writes a private file again
    assert stat.S_IMODE(student.credentials.stat().st_mode) == 0o600


def test_an_unknown_assignment_and_a_file_too_large_are_explained(
    student: Student, klass: Klass, tmp_path: Path, homework: Path
) -> None:
    assert student.login().exit_code == 0
    unknown = student.run("submit", str(homework), "-a", "hw9")
    assert unknown.exit_code == 2
    assert "no assignment 'hw9' in your courses; yours: hw2 (WEB-" in " ".join(unknown.stderr.split())
    wrong_course = student.run("submit", str(homework), "-a", "hw2", "--course", "NOPE")
    assert wrong_course.exit_code == 2 and "no assignment 'hw2' in NOPE" in wrong_course.stderr

    huge = tmp_path / "big" / "hw2.py"
    huge.parent.mkdir()
    huge.write_bytes(REFERENCE + b"#" * 1_100_000)
    too_large = student.run("submit", str(huge), "-a", "hw2")
    assert too_large.exit_code == 2
    assert "hw2.py was not accepted:" in too_large.stderr and "upload limit of 1,000,000 bytes" in too_large.stderr
    with api(student.server, klass.instructor) as prof:
        assert prof.get("/submissions", params={"assignment_id": klass.assignment_id}).json() == []


def test_the_assignment_list_finds_an_assignment_by_slug_and_course(
    postgres_server_app: LiveServer, klass: Klass
) -> None:
    with api(postgres_server_app, klass.students[0]) as client:
        [found] = client.get("/assignments", params={"slug": "hw2"}).json()
        assert found["id"] == klass.assignment_id and found["course_code"].startswith("WEB-")
        assert client.get("/assignments", params={"slug": "hw2", "course": found["course_code"]}).json() == [found]
        assert client.get("/assignments", params={"slug": "hw9"}).json() == []
        assert client.get("/assignments", params={"course": "NOPE"}).json() == []


def test_too_many_requests_say_how_long_to_wait(
    postgres_server_app: LiveServer, postgres_stack: Stack, make_klass: Callable[..., Klass],
    tmp_path: Path, homework: Path,
) -> None:
    klass = make_klass(postgres_stack, max_submissions=1)
    student = Student(postgres_server_app, klass.students[0], tmp_path)
    assert student.login().exit_code == 0
    assert student.run("submit", str(homework), "-a", "hw2", "--no-wait").exit_code == 0
    second = student.run("submit", str(homework), "-a", "hw2", "--no-wait")
    assert second.exit_code == 2 and "you have used all 1 submissions for this assignment" in second.stderr

    # The account's wrong guesses come from an address of their own, so the shared server's counter
    # for 127.0.0.1 (where the command connects from) is left alone.
    with client_from(postgres_server_app, fresh_address()) as guesser:
        for _ in range(get_settings().login_attempts_per_account):
            assert token_login(guesser, student.person.email, "guess").status_code == 401
    throttled = student.login()
    assert throttled.exit_code == 2
    message = " ".join(throttled.stderr.split())
    assert "too many login attempts" in message and "(retry after 15 min)" in message  # GRADER_LOGIN_WINDOW_S


def login_as_anyone(server: str, home: Path) -> Result:
    """`grader login --server SERVER` by a student whose configuration lives under `home`."""
    return CliRunner().invoke(cli.app, ["login", "--server", server], input="stu@uni.edu\nmy password\n",
                              env={"XDG_CONFIG_HOME": str(home / "config")}, catch_exceptions=False)


@pytest.mark.parametrize("server", ["http://grader.example.edu", "http://192.0.2.10:8000/",
                                    "http://127.0.0.1.example.edu"])
def test_plain_http_to_another_machine_is_refused_before_the_password_is_asked(server: str, tmp_path: Path) -> None:
    refused = login_as_anyone(server, tmp_path)
    assert refused.exit_code == 2
    https = "https://" + server.removeprefix("http://").rstrip("/")
    assert (f"error: --server {server!r}: plain http:// would send your password and token unencrypted: "
            f"use {https} (http:// is for a grader on this machine only)") in " ".join(refused.stderr.split())
    assert "Password" not in refused.output and not (tmp_path / "config").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_to_this_machine_is_allowed(host: str, tmp_path: Path) -> None:
    """`make run` serves plain http on 127.0.0.1: the login goes ahead (and finds nobody there)."""
    server = f"http://{host}:{free_port()}"
    unreachable = login_as_anyone(server, tmp_path)
    assert unreachable.exit_code == 2
    assert f"cannot reach the grader at {server}" in " ".join(unreachable.stderr.split())


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with `reply` (status, Location) and keeps each request's path and body."""

    reply: tuple[int, str] = (404, "")
    seen: list[tuple[str, str]]

    def do_POST(self) -> None:
        self.seen.append((self.path, self.rfile.read(int(self.headers["Content-Length"])).decode()))
        status, location = self.reply
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording_server(status: int, location: str = "") -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A server on 127.0.0.1 that answers `status` (with `location`): its URL and the requests it got."""
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (Recorder,), {"reply": (status, location), "seen": seen})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", seen
        finally:
            server.shutdown()
            thread.join()


def test_a_redirect_is_named_and_never_followed(tmp_path: Path) -> None:
    """Most servers send plain http on to https: the student is told where, and nothing goes there."""
    with recording_server(404) as (elsewhere, reached_elsewhere):
        with recording_server(308, f"{elsewhere}/api/auth/token") as (server, reached):
            redirected = login_as_anyone(server, tmp_path)
    assert redirected.exit_code == 2
    assert (f"error: {server} redirects to {elsewhere}/api/auth/token, which is not followed: if that is your "
            f"grader, log in with `grader login --server {elsewhere}`") in " ".join(redirected.stderr.split())
    assert [path for path, _body in reached] == ["/api/auth/token"] and reached_elsewhere == []


@pytest.mark.parametrize("command", [["submissions", "-a", "hw2"], ["submit", "hw2.py", "-a", "hw2"]])
def test_a_login_saved_for_plain_http_to_another_machine_is_not_used(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client from before plain http:// was refused kept such logins: its token must not go out
    unencrypted now either, and the student is told how to log in again."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    credentials.save(credentials.Credentials(server="http://grader.example.edu", email="stu@uni.edu",
                                             token="grd_secret", token_id=1, expires_at="2099-01-01T00:00:00Z"))
    (tmp_path / "hw2.py").write_bytes(REFERENCE)
    monkeypatch.chdir(tmp_path)
    refused = CliRunner().invoke(cli.app, command, env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
                                 catch_exceptions=False)
    assert refused.exit_code == 2
    assert ("your login was saved for http://grader.example.edu, where plain http:// would send your token "
            "unencrypted: log in again with `grader login --server https://grader.example.edu`"
            ) in " ".join(refused.stderr.split())
