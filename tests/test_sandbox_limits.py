"""Each limit of the sandbox, shown to hold: one test per limit, through the real fork server."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.config import get_settings
from grader.engine import Engine
from grader.errors import StudentFault
from grader.rubric_spec import Limits
from grader.sandbox.limits import CGROUP_PARENT, ORPHAN_AGE_S, CgroupManager, sandbox_cgroup_prefix
from grader.sandbox.process_identity import TAG, gone, process_start, tag
from grader.sandbox.proxy import StudentModule, SubmissionSandbox
from tests.conftest import ROOT

SMALL = Limits(call_timeout_s=2, submission_timeout_s=20, memory_mb=512, cpu_time_s=2,
               max_processes=16, max_file_mb=1, max_open_files=32)

# Student code that reads and sets a process's limits, priority and scheduling: what the kernel
# lets any process of the same uid do to another, and every sandbox runs as the same uid.
PROCESS_CONTROL = textwrap.dedent("""
    import ctypes, errno, os, resource, struct
    libc = ctypes.CDLL(None, use_errno=True)
    IOPRIO_SET, IOPRIO_GET, SCHED_SETATTR = {"x86_64": (251, 252, 314), "aarch64": (30, 31, 274)}[os.uname().machine]
    IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP, IOPRIO_IDLE = 1, 2, 3 << 13
    LIMITS = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE)

    def state():
        return {"limits": [resource.getrlimit(limit) for limit in LIMITS],
                "nice": os.getpriority(os.PRIO_PROCESS, 0), "cpus": sorted(os.sched_getaffinity(0)),
                "policy": os.sched_getscheduler(0), "io": libc.syscall(IOPRIO_GET, IOPRIO_WHO_PROCESS, 0)}

    def raw(number, *args):
        if libc.syscall(number, *args) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    def idle_attributes():
        # struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period
        return ctypes.create_string_buffer(struct.pack("=IIQiIQQQ", 48, os.SCHED_IDLE, 0, 19, 0, 0, 0, 0))
""")


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


def test_a_sandbox_cannot_change_the_limits_or_scheduling_of_another(sandboxed):
    """All sandboxes share one uid: one that lowered another's RLIMIT_AS made the next student's
    correct submission fail to import (scored 0), and its priority or CPUs could slow it into timeouts."""
    victim = sandboxed(PROCESS_CONTROL + textwrap.dedent("""
        def pid():
            return os.getpid()
    """))
    attacker = sandboxed(PROCESS_CONTROL + textwrap.dedent("""
        def attempt(action, *args):
            try:
                action(*args)
                return "changed"
            except OSError as exc:
                return errno.errorcode[exc.errno]

        def run(pid):
            cpu = {min(os.sched_getaffinity(0))}
            return {
                "prlimit AS": attempt(resource.prlimit, pid, resource.RLIMIT_AS, (64 << 20, 64 << 20)),
                "prlimit CPU": attempt(resource.prlimit, pid, resource.RLIMIT_CPU, (1, 1)),
                "prlimit FSIZE": attempt(resource.prlimit, pid, resource.RLIMIT_FSIZE, (0, 0)),
                "prlimit NOFILE": attempt(resource.prlimit, pid, resource.RLIMIT_NOFILE, (3, 3)),
                "prlimit read": attempt(resource.prlimit, pid, resource.RLIMIT_AS),
                "setpriority": attempt(os.setpriority, os.PRIO_PROCESS, pid, 19),
                "setpriority of its group": attempt(os.setpriority, os.PRIO_PGRP, pid, 19),
                "sched_setaffinity": attempt(os.sched_setaffinity, pid, cpu),
                "sched_setscheduler": attempt(os.sched_setscheduler, pid, os.SCHED_IDLE, os.sched_param(0)),
                "sched_setparam": attempt(os.sched_setparam, pid, os.sched_param(0)),
                "sched_setattr": attempt(raw, SCHED_SETATTR, pid, idle_attributes(), 0),
                "ioprio_set": attempt(raw, IOPRIO_SET, IOPRIO_WHO_PROCESS, pid, IOPRIO_IDLE),
                "ioprio_set of its group": attempt(raw, IOPRIO_SET, IOPRIO_WHO_PGRP, pid, IOPRIO_IDLE),
            }
    """))
    before = victim.state()
    outcomes = attacker.run(victim.pid())
    assert outcomes == dict.fromkeys(outcomes, "EPERM")
    assert victim.state() == before


def test_a_sandbox_still_sets_its_own_limits_and_scheduling(sandboxed):
    """What glibc and Python do for a process's own limits and scheduling (pid 0: itself) works."""
    student = sandboxed(PROCESS_CONTROL + textwrap.dedent("""
        def run():
            before = state()
            cpu = min(os.sched_getaffinity(0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
            os.nice(1)
            os.sched_setaffinity(0, {cpu})
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
            raw(IOPRIO_SET, IOPRIO_WHO_PROCESS, 0, IOPRIO_IDLE)
            return before, state(), cpu
    """))
    before, after, cpu = student.run()
    assert after == {"limits": [*before["limits"][:3], (16, 16)], "nice": min(before["nice"] + 1, 19),
                     "cpus": [cpu], "policy": os.SCHED_BATCH, "io": 3 << 13}


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


def test_a_new_fork_server_removes_the_cgroups_its_dead_predecessors_left() -> None:
    """A fork server killed outright leaves the cgroups of its last sandboxes behind (emptied when
    they died); without a cleanup a long-lived host gathers them by the thousand. A live server's
    are kept, and so are another pid namespace's (another container on the same hierarchy) while
    they are young: their server can't be judged from here."""
    manager = CgroupManager()
    bases = {base for base in (manager.memory_base, manager.pids_base) if base is not None}
    if not bases:
        pytest.skip("no writable cgroup hierarchy")
    server = subprocess.Popen(["sleep", "60"])
    dead = sandbox_cgroup_prefix(server.pid) + "7"
    server.kill()
    server.wait()
    alive = sandbox_cgroup_prefix(os.getpid()) + "7"
    elsewhere = "sandbox-1-" + dead.split("-", 2)[2]  # the same server, in another namespace
    for base in bases:
        for name in (dead, alive, elsewhere):
            (base / name).mkdir()
    try:
        with Engine() as engine:
            engine.probe_layers()
        assert [base / dead for base in bases if (base / dead).exists()] == []
        assert all((base / alive).is_dir() and (base / elsewhere).is_dir() for base in bases)
    finally:
        for base in bases:
            for name in (dead, alive, elsewhere):
                with contextlib.suppress(FileNotFoundError):
                    (base / name).rmdir()


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[CgroupManager, Path]:
    """A CgroupManager on a directory tree standing in for a v1 hierarchy, and its memory base."""
    for controller in ("memory", "pids"):
        (tmp_path / controller).mkdir()
    return CgroupManager(root=tmp_path), tmp_path / "memory" / CGROUP_PARENT


def test_old_empty_sandbox_cgroups_are_removed_whoever_made_them(stand_in: tuple[CgroupManager, Path]) -> None:
    """Those of a dead container's namespace, or named before names carried one, can't be judged
    by their server: once an hour old and empty they are nobody's (a directory tree stands in
    for the hierarchy here; a file in a directory, like a process in a cgroup, keeps it)."""
    manager, base = stand_in
    old_form, other_namespace, held, young = "sandbox-123-4", "sandbox-1-2-3-4", "sandbox-5-6", "sandbox-7-8"
    for name in (old_form, other_namespace, held, young):
        (base / name).mkdir()
    (base / held / "cgroup.procs").write_text("99")
    hours_ago = time.time() - ORPHAN_AGE_S - 1
    for name in (old_form, other_namespace, held):
        os.utime(base / name, (hours_ago, hours_ago))
    manager.remove_orphans()
    assert sorted(path.name for path in base.iterdir()) == sorted([held, young])


def test_each_sandbox_cgroup_is_named_by_its_fork_server() -> None:
    manager = CgroupManager()
    if manager.memory_base is None:
        pytest.skip("no writable memory cgroup")
    with Engine(get_settings().model_copy(update={"sandbox_template": None})) as engine:
        engine.probe_layers()  # and a spare sandbox waits in its cgroup
        assert engine._server is not None
        prefix = sandbox_cgroup_prefix(engine._server.process.pid)
        occupied = [d.name for d in manager.memory_base.glob("sandbox-*") if (d / "cgroup.procs").read_text().strip()]
        assert any(name.startswith(prefix) for name in occupied), (prefix, occupied)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a pid namespace")
def test_fork_servers_of_two_pid_namespaces_never_share_a_sandbox_cgroup() -> None:
    """docker-compose.yml's workers share the host's cgroup hierarchy, each in a pid namespace of
    its own, where their fork servers often get the same small pids: one name for both would put
    two containers' sandboxes under one limit, and one's clean-up would kill the other's."""
    name_it = "import os; from grader.sandbox.limits import sandbox_cgroup_prefix as p; print(p(os.getpid()))"
    inside = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", name_it],
                            capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    assert inside.split("-")[2] == "1"  # pid 1 there
    assert inside.split("-")[1] != sandbox_cgroup_prefix(os.getpid()).split("-")[1]


def test_a_predecessor_with_the_same_pid_is_told_apart_and_its_cgroups_never_reused(
    stand_in: tuple[CgroupManager, Path],
) -> None:
    """A restarted container's fork server may get its predecessor's pid in a namespace with the
    same inode: the start time tells them apart, and a cgroup already there (with its OOM kills)
    is never taken over."""
    manager, base = stand_in
    own = sandbox_cgroup_prefix(os.getpid())
    namespace, pid, started = own.split("-")[1:4]
    predecessor = f"sandbox-{namespace}-{pid}-{int(started) + 1}-7"
    (base / predecessor).mkdir()
    (base / (own + "7")).mkdir()
    manager.remove_orphans()
    assert sorted(path.name for path in base.iterdir()) == [own + "7"]
    assert manager.create(own + "7", SMALL).memory is None


def test_a_process_named_in_bytes_that_are_not_utf8_stops_no_start() -> None:
    """A sandbox may rename itself (prctl PR_SET_NAME) with any bytes; when a leftover directory or
    cgroup carries its pid, reading its start time must not fail every later start."""
    renamed = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import ctypes, sys, time
        ctypes.CDLL(None).prctl(15, b"\\xff\\xfe\\xfd", 0, 0, 0)  # PR_SET_NAME
        print("renamed", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert renamed.stdout is not None and renamed.stdout.readline().strip() == "renamed"
        assert process_start(renamed.pid) is not None
        assert not gone(re.fullmatch(TAG, tag(renamed.pid)))  # type: ignore[arg-type]
    finally:
        renamed.kill()
        renamed.wait()
