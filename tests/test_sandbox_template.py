"""The fork-server template (grader.sandbox.template): a fork server forked from it grades as one
started cold, ends with its engine, and only the template's own user is served."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import get_settings
from grader.engine import Engine
from grader.rubric_spec import Rubric
from grader.sandbox.forkserver import SERVER_ENV, ForkServer
from harness.servers import wait_until
from tests.conftest import CORRECT, ROOT, UNPRIVILEGED_UID


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_fork_server_from_the_template_grades_as_one_started_here(sandbox_template: Path, hw2_rubric: Rubric,
                                                                     tmp_path: Path, caplog):
    settings = get_settings()
    assert settings.sandbox_template == sandbox_template
    missing = settings.model_copy(update={"sandbox_template": tmp_path / "no-template.sock"})

    reports = {}
    with caplog.at_level(logging.WARNING, logger="grader.sandbox.forkserver"):
        for name, chosen in (("template", settings), ("own", missing)):
            with Engine(chosen) as engine:
                reports[name] = engine.grade(CORRECT.encode(), "hw2.py", hw2_rubric)
                parent = _parent(engine._fork_server().process.pid)
            if name == "template":
                assert parent != os.getpid() and "grader.sandbox.template" in _command(parent), _command(parent)
            else:
                assert parent == os.getpid()  # the fallback: a server of its own, started here
    assert f"no fork server from the template at {tmp_path / 'no-template.sock'}" in caplog.text

    template, own = reports["template"], reports["own"]
    assert template.score == own.score == template.max_score > 0
    assert [(t.name, t.passed) for t in template.tests] == [(t.name, t.passed) for t in own.tests]


def test_a_fork_server_from_the_template_ends_with_its_engines_process(sandbox_template: Path, tmp_path: Path):
    """The server is the template's child, not the engine's: when the engine's process is killed
    outright, the server must still end (its control socket closes), and its sandbox with it."""
    script = textwrap.dedent(f"""
        import os, socket, sys, time
        from pathlib import Path
        from grader.sandbox.forkserver import ForkServer
        server = ForkServer(Path({str(sandbox_template)!r}))
        print(server.process.pid, flush=True)
        time.sleep(600)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        pid = int(holder.stdout.readline())
        assert "grader.sandbox.template" in _command(_parent(pid))
        assert not _gone(pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        wait_until(lambda: _gone(pid), 15, "the fork server to end with its engine's process")
    finally:
        holder.kill()
        holder.wait()


def test_an_engine_closing_its_server_ends_it(sandbox_template: Path):
    server = ForkServer(sandbox_template)
    pid = server.process.pid
    assert server.alive() and not _gone(pid)
    server.close()
    assert _gone(pid)


@pytest.fixture
def open_template() -> Iterator[Path]:
    """A second template whose socket any user may open (the session's is root's only), to show the
    template itself refuses other users. Outside pytest's root-only folders, so they can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="grader-open-template-"))
    path = folder / "template.sock"
    process = subprocess.Popen([sys.executable, "-m", "grader.sandbox.template", str(path)], env=SERVER_ENV, cwd="/",
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: path.exists() or process.poll() is not None, 120, "the template to listen")
        assert path.stat().st_mode & 0o077 == 0  # made for its own user only
        folder.chmod(0o755)
        path.chmod(0o666)
        yield path
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


ASK_AS_ANOTHER_USER = """
import socket, sys
with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
    connection.connect(sys.argv[1])
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:  # the template may close the connection before the request is even sent
        socket.send_fds(connection, [b"fork"], [theirs.fileno()])
        data, fds, _, _ = socket.recv_fds(connection, 64, 1)
    except (BrokenPipeError, ConnectionResetError):
        data, fds = b"", []
print("answered" if data or fds else "refused")
"""


def test_the_template_forks_no_server_for_another_user(open_template: Path, sandbox_template: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as another user")
    done = subprocess.run(["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups",
                           sys.executable, "-c", ASK_AS_ANOTHER_USER, str(open_template)],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused"]  # no pid, no pidfd: the connection was closed unanswered

    # and the session's template, where its socket's mode alone keeps the other user out
    refused = subprocess.run(["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups",
                              sys.executable, "-c", ASK_AS_ANOTHER_USER, str(sandbox_template)],
                             capture_output=True, text=True, timeout=60, cwd="/")
    assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stderr
