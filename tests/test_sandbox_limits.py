"""Each limit of the sandbox, shown to hold: one test per limit, through the real fork server."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator

import pytest

from grader.config import get_settings
from grader.engine import Engine
from grader.errors import StudentFault
from grader.rubric_spec import Limits
from grader.sandbox.proxy import StudentModule, SubmissionSandbox

SMALL = Limits(call_timeout_s=2, submission_timeout_s=20, memory_mb=512, cpu_time_s=2,
               max_processes=16, max_file_mb=1, max_open_files=32)


@pytest.fixture
def sandboxed(engine: Engine) -> Iterator[Callable[[str], StudentModule]]:
    """sandboxed(source) -> the module, imported in a fresh sandbox with SMALL limits."""
    opened: list[SubmissionSandbox] = []
    settings = get_settings()

    def make(source: str, limits: Limits = SMALL) -> StudentModule:
        box = engine._sandbox(textwrap.dedent(source), "student", limits, "cpu")
        opened.append(box)
        return StudentModule(box)

    yield make
    for box in opened:
        box.close()
    assert settings.sandbox_root.exists()


def test_wall_clock_timeout_stops_a_sleeping_call(sandboxed):
    student = sandboxed("""
        import time
        def run():
            time.sleep(60)
    """)
    with pytest.raises(StudentFault, match=r"timed out after 2 s in run\(\)"):
        student.run()


def test_cpu_time_limit_stops_a_busy_loop(sandboxed):
    student = sandboxed("""
        def run():
            while True:
                pass
    """, Limits(**{**SMALL.__dict__, "call_timeout_s": 10, "cpu_time_s": 1}))
    with pytest.raises(StudentFault, match=r"used more than 1 s of CPU time in run\(\)"):
        student.run()


def test_memory_limit_stops_a_memory_eater(sandboxed):
    student = sandboxed("""
        import torch
        def run():
            blocks = []
            while True:
                blocks.append(torch.ones(32 * 1024 * 1024, dtype=torch.float64))  # 256 MB each, touched
    """)
    with pytest.raises(StudentFault, match=r"ran out of memory in run\(\) \(limit 512 MB\)|MemoryError"):
        student.run()


def test_processes_cannot_be_created(sandboxed):
    student = sandboxed("""
        import os, subprocess, threading
        def run():
            results = []
            for attempt in (os.fork, lambda: subprocess.run(["/bin/true"])):
                try:
                    attempt()
                    results.append("created")
                except OSError as exc:
                    results.append(exc.errno)
            return results
        def threads():
            started = 0
            try:
                for _ in range(100):
                    threading.Thread(target=__import__("time").sleep, args=(5,), daemon=True).start()
                    started += 1
            except RuntimeError:
                pass
            return started
    """)
    assert student.run() == [1, 1]  # EPERM: seccomp refuses fork and exec
    assert student.threads() < 16  # the pids cgroup counts threads too


def test_file_size_limit(sandboxed):
    student = sandboxed("""
        def run():
            with open("big.bin", "wb") as handle:
                handle.write(b"x" * (2 * 1024 * 1024))
    """)
    with pytest.raises(StudentFault, match="File too large"):
        student.run()


def test_open_files_limit(sandboxed):
    student = sandboxed("""
        def run():
            handles = [open("f%d" % i, "w") for i in range(100)]
    """)
    with pytest.raises(StudentFault, match="Too many open files"):
        student.run()


def test_no_network(sandboxed):
    student = sandboxed("""
        import socket
        def run():
            outcomes = []
            for family, kind, address in ((socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 6379)),
                                          (socket.AF_INET, socket.SOCK_DGRAM, ("8.8.8.8", 53)),
                                          (socket.AF_UNIX, socket.SOCK_STREAM, "/var/run/postgresql/.s.PGSQL.5432")):
                try:
                    sock = socket.socket(family, kind)
                    sock.connect(address)
                    outcomes.append("connected")
                except OSError as exc:
                    outcomes.append(exc.errno)
            return outcomes
    """)
    assert "connected" not in student.run()


def test_files_outside_the_scratch_directory_are_unreadable_and_unwritable(sandboxed):
    rubric_file = str(get_settings().rubrics_dir / "hw2" / "rubric.toml")
    student = sandboxed(f"""
        import os
        def run():
            outcomes = {{}}
            for path in ("/etc/passwd", {rubric_file!r}, "/proc/1/environ", "/root/.bashrc"):
                try:
                    open(path).read(1)
                    outcomes[path] = "read"
                except OSError as exc:
                    outcomes[path] = exc.errno
            for path in ("/tmp/planted", "../planted"):
                try:
                    open(path, "w").write("x")
                    outcomes[path] = "written"
                except OSError as exc:
                    outcomes[path] = exc.errno
            open("scratch.txt", "w").write("mine")
            outcomes["scratch"] = open("scratch.txt").read()
            return outcomes
    """)
    outcomes = student.run()
    assert outcomes.pop("scratch") == "mine"
    assert "read" not in outcomes.values() and "written" not in outcomes.values(), outcomes


def test_runs_unprivileged_with_a_scrubbed_environment(sandboxed, monkeypatch):
    student = sandboxed("""
        import os
        def run():
            return os.getuid(), os.geteuid(), sorted(os.environ)
    """)
    uid, euid, names = student.run()
    if uid == 0:
        pytest.fail("the sandbox kept root")
    assert uid == euid == get_settings().sandbox_uid
    assert not [n for n in names if n.startswith("GRADER_") or "URL" in n or "SECRET" in n]


def test_signals_cannot_reach_the_fork_server_or_the_grader(sandboxed, engine):
    student = sandboxed("""
        import os, signal
        def run():
            outcomes = []
            for pid in (os.getppid(), 1, -1):
                try:
                    os.kill(pid, signal.SIGKILL)
                    outcomes.append("sent")
                except OSError as exc:
                    outcomes.append(exc.errno)
            return outcomes
    """)
    server = engine._fork_server()  # the one the sandbox is forked from: it must outlive the attack
    assert "sent" not in student.run()[:2]
    assert engine._server is server and server.alive(), "the fork server was killed (and replaced)"


def test_a_crash_fails_one_call_and_the_next_call_gets_a_fresh_sandbox(sandboxed):
    student = sandboxed("""
        import ctypes, os
        state = []
        def crash():
            ctypes.string_at(0)
        def leave():
            os._exit(3)
        def remember():
            state.append(1)
            return len(state)
    """)
    assert student.remember() == 1
    with pytest.raises(StudentFault, match=r"killed by signal 11 \(SIGSEGV\) in crash\(\)"):
        student.crash()
    assert student.remember() == 1  # a new sandbox: nothing kept from the crashed one
    with pytest.raises(StudentFault, match=r"exited with status 3 in leave\(\)"):
        student.leave()


def test_values_that_are_not_plain_data_are_refused(sandboxed):
    student = sandboxed("""
        import torch
        class Sneaky(torch.Tensor):
            def __eq__(self, other):
                return True
        class AlwaysEqual:
            def __eq__(self, other):
                return True
        def subclass():
            return torch.zeros(3).as_subclass(Sneaky)
        def custom():
            return AlwaysEqual()
    """)
    with pytest.raises(StudentFault, match="Sneaky is not plain data"):
        student.subclass()
    with pytest.raises(StudentFault, match="AlwaysEqual is not plain data"):
        student.custom()


def test_an_oversized_reply_is_refused_without_being_read(sandboxed):
    student = sandboxed("""
        import os, struct
        def run():
            for fd in range(3, 64):
                try:
                    os.write(fd, struct.pack("!II", 1 << 30, 1 << 30))
                except OSError:
                    pass
            return 1
    """)
    with pytest.raises(StudentFault, match="malformed data in run"):
        student.run()
