"""The fork-server template (grader.sandbox.template): a fork server forked from it grades as one
started cold, ends with its engine, and only the template's own user is served."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import get_settings
from grader.engine import Engine
from grader.rubric_spec import Rubric
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.process_identity import parent, process_start
from harness.servers import wait_until
from tests.conftest import AS_UNPRIVILEGED, CORRECT, ROOT, UNPRIVILEGED_UID, start_template


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


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
                server_parent = parent(engine._fork_server().process.pid)
            if name == "template":
                assert server_parent != os.getpid() and "grader.sandbox.template" in _command(server_parent), \
                    _command(server_parent)
            else:
                assert server_parent == os.getpid()  # the fallback: a server of its own, started here
    assert f"no fork server from the template at {tmp_path / 'no-template.sock'}" in caplog.text

    template, own = reports["template"], reports["own"]
    assert template.score == own.score == template.max_score > 0
    assert [(t.name, t.passed) for t in template.tests] == [(t.name, t.passed) for t in own.tests]


SLEEPING_ENGINE = """
import sys, time
from pathlib import Path
from grader.engine import Engine
from grader.rubric_spec import load_rubric
engine = Engine()
running = engine.start(sys.stdin.read().encode(), "hw2.py", load_rubric(Path(sys.argv[1])))
print(engine._fork_server().process.pid, flush=True)
time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


@pytest.mark.parametrize("started", ["from the template", "cold"])
def test_a_fork_server_and_its_sandboxes_end_with_their_engines_process(started: str, sandbox_template: Path,
                                                                         hw2_rubric: Rubric):
    """SIGKILL the engine's process while a sandbox runs student code: the fork server (the template's
    child, or the engine's) and every sandbox must end, not live on under init with their cgroups."""
    env = dict(os.environ)
    if started == "cold":
        env.pop("GRADER_SANDBOX_TEMPLATE")
    holder = subprocess.Popen([sys.executable, "-c", SLEEPING_ENGINE, str(hw2_rubric.directory)], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(CORRECT + "\nimport time\ntime.sleep(600)\n")
        holder.stdin.close()
        server = int(holder.stdout.readline())
        is_template = "grader.sandbox.template" in _command(parent(server))
        assert is_template == (started == "from the template")
        sandboxes = wait_until(lambda: _children(server) if len(_children(server)) == 2 else None, 60,
                               "the sandbox and the spare to be forked")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        wait_until(lambda: all(process_start(pid) is None for pid in (server, *sandboxes)), 15,
                   "the fork server and its sandboxes to end with their engine's process")
    finally:
        holder.kill()
        holder.wait()


def test_an_engine_closing_its_server_ends_it(sandbox_template: Path):
    server = ForkServer(sandbox_template)
    pid = server.process.pid
    assert server.alive() and process_start(pid) is not None
    server.close()
    assert process_start(pid) is None


@pytest.fixture
def open_template() -> Iterator[Path]:
    """A second template whose socket any user may open (the session's is root's only), to show the
    template itself refuses other users. Outside pytest's root-only folders, so they can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="grader-open-template-"))
    path = folder / "template.sock"
    process = start_template(path)
    try:
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
    done = subprocess.run([*AS_UNPRIVILEGED, sys.executable, "-c", ASK_AS_ANOTHER_USER, str(open_template)],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused"]  # no pid, no pidfd: the connection was closed unanswered

    # and the session's template, where its socket's mode alone keeps the other user out
    refused = subprocess.run([*AS_UNPRIVILEGED, sys.executable, "-c", ASK_AS_ANOTHER_USER, str(sandbox_template)],
                             capture_output=True, text=True, timeout=60, cwd="/")
    assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stderr


# Reads the environment block the process was started with off its stack (os.environ only drops
# pointers to it), and this process's umask; raises so that both come back in the feedback.
READ_STARTUP_STATE = r'''
import ctypes, os
_libc = ctypes.CDLL(None)
_libc.getauxval.restype = ctypes.c_ulong
_start = ctypes.c_void_p.in_dll(_libc, "program_invocation_name").value
_block = ctypes.string_at(_start, _libc.getauxval(31) - _start)  # up to AT_EXECFN, the stack's last string
_found = [s.decode() for s in _block.split(b"\0") if b"GRADER_" in s]
raise RuntimeError(f"STARTUP umask={os.umask(0o22):o} {_found}")
'''


def test_what_the_template_was_started_with_never_reaches_a_sandbox(hw2_rubric: Rubric):
    """An operator starts the template with the workers' environment (secret key, database URL):
    the sandboxes of the servers it forks must see neither, nor any other state of its start."""
    folder = Path(tempfile.mkdtemp(prefix="grader-template-env-"))
    path = folder / "template.sock"
    started_with = {**os.environ, "GRADER_SECRET_KEY": "template-start-secret-XYZZY"}
    process = start_template(path, env=started_with, cwd=ROOT)
    try:
        settings = get_settings().model_copy(update={"sandbox_template": path})
        with Engine(settings) as engine:
            report = engine.grade((CORRECT + READ_STARTUP_STATE).encode(), "hw2.py", hw2_rubric)
            assert "grader.sandbox.template" in _command(parent(engine._fork_server().process.pid))
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    said = " ".join(t.message for t in report.tests)
    mask = os.umask(0o22)
    os.umask(mask)
    assert f"STARTUP umask={mask:o} []" in said, said[:500]  # the attack ran, and found nothing
    assert "XYZZY" not in said + report.all_printed


FAKE_TEMPLATE = """
import socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
listener.bind(sys.argv[1])
listener.listen(1)
print("listening", flush=True)
connection, _ = listener.accept()
connection.settimeout(5)
try:
    _, fds, _, _ = socket.recv_fds(connection, 64, 1)
except (TimeoutError, OSError):
    fds = []
print("got the control socket" if fds else "got nothing", flush=True)
"""


def test_an_engine_gives_its_control_socket_only_to_a_template_of_its_own_user(tmp_path: Path, caplog):
    """Whoever can make the socket's path (a shared folder, a template down) could answer as the
    template: it would read every spawn request and could have any pid SIGKILLed as the engine's user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as another user")
    folder = Path(tempfile.mkdtemp(prefix="grader-fake-template-"))
    folder.chmod(0o1777)
    path = folder / "template.sock"
    fake = subprocess.Popen([*AS_UNPRIVILEGED, sys.executable, "-c", FAKE_TEMPLATE, str(path)], cwd="/",
                            stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None and fake.stdout.readline().strip() == "listening"
        with caplog.at_level(logging.WARNING, logger="grader.sandbox.forkserver"):
            server = ForkServer(path)
        try:
            assert parent(server.process.pid) == os.getpid()  # refused: a server of its own instead
        finally:
            server.close()
        assert fake.stdout.readline().strip() == "got nothing"
        assert f"uid {UNPRIVILEGED_UID}" in caplog.text
    finally:
        fake.kill()
        fake.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stalled_request_holds_up_no_other_engine(sandbox_template: Path):
    """An engine stopped between its connect and its request kept the template from answering
    anyone else for 30 s: each such engine started a server of its own (torch imported again)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as stalled:
        stalled.connect(str(sandbox_template))
        server = ForkServer(sandbox_template)
        try:
            assert "grader.sandbox.template" in _command(parent(server.process.pid))
        finally:
            server.close()


def test_restarting_the_template_ends_no_engines_server_and_keeps_its_path(tmp_path: Path):
    """A restart starts the new template on the path, then stops the old one's process group (as
    a service manager does): the old one's servers keep serving their engines, and the path stays
    the new one's."""
    path = tmp_path / "template.sock"

    old = start_template(path, start_new_session=True)
    new = None
    try:
        engine_server = ForkServer(path)
        old_socket = path.stat().st_ino
        new = start_template(path, start_new_session=True)
        wait_until(lambda: path.stat().st_ino != old_socket, 120, "the new template to take the path")
        os.killpg(old.pid, signal.SIGTERM)
        old.wait(timeout=30)
        assert engine_server.alive(), "stopping the old template's group ended an engine's server"
        engine_server.close()
        assert path.exists(), "the old template removed the new one's socket"
        again = ForkServer(path)
        try:
            assert parent(again.process.pid) == new.pid
        finally:
            again.close()
    finally:
        for process in (old, new):
            if process is not None:
                process.kill()
                process.wait()


# What student code can see of the process it was forked into, minus what differs from any
# sandbox to the next (pids, its scratch folder's path) and the server's own argv and main
# module (each names its kind): raised, so that it comes back in the feedback.
SANDBOX_VIEW = r'''
import json, os, resource, signal, sys


def _open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


_view = {
    "cwd": os.path.basename(os.getcwd()), "umask": os.umask(0o22), "fds": [fd for fd in range(256) if _open(fd)],
    "environ": sorted(os.environ), "path": len(sys.path),
    "ids": (os.getuid(), os.geteuid(), os.getgid(), os.getgroups()),
    "own_group": os.getpgrp() == os.getpid(), "own_session": os.getsid(0) == os.getpid(),
    "rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource)
                if name.startswith("RLIMIT_")},
    "signals": {s.name: str(signal.getsignal(s)) for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP)},
}
raise RuntimeError("VIEW " + json.dumps(_view, sort_keys=True))
'''


def test_a_sandbox_sees_the_same_process_from_either_kind_of_server(sandbox_template: Path, hw2_rubric: Rubric):
    """The isolation tests run on servers forked from the session's template; production's default
    starts each cold. What student code can observe of its process must not tell them apart."""
    settings = get_settings()
    views = {}
    for name, chosen in (("template", settings), ("cold", settings.model_copy(update={"sandbox_template": None}))):
        with Engine(chosen) as engine:
            report = engine.grade((CORRECT + SANDBOX_VIEW).encode(), "hw2.py", hw2_rubric)
            is_forked = "grader.sandbox.template" in _command(parent(engine._fork_server().process.pid))
            assert is_forked == (name == "template")
        said = report.tests[0].message
        assert "VIEW " in said, said[:300]
        views[name] = said.split("VIEW ", 1)[1].rsplit(" (line", 1)[0]
    assert views["template"] == views["cold"]
