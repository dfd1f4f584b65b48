"""Inter-process communication outside files: nothing one sandbox makes may outlive it or reach
another. SysV shared memory, message queues and semaphores and POSIX message queues live in an
IPC namespace (one per sandbox); POSIX shared memory is files in /dev/shm (Landlock)."""

from __future__ import annotations

import ctypes
import json
import os
import random
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import cli, cli_grading
from grader.config import get_settings
from grader.engine import Engine
from harness.samples import submission_source

CORRECT = submission_source("correct_vectorised")[1]
FULL = 37.0
SYSV_TABLES = ("shm", "msg", "sem")

# Used by the student files below, as a student would: ctypes and the C library.
STUDENT_IPC = """
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmat.restype = ctypes.c_void_p
_libc.mq_open.restype = ctypes.c_int
IPC_CREAT = 0o1000

def leave_behind(key, name, size):
    shmid = _libc.shmget(key, size, IPC_CREAT | 0o666)
    address = _libc.shmat(shmid, None, 0)
    ctypes.memset(address, ord("a"), size)  # touched: real memory, not just a reservation
    ctypes.memmove(address, b"ANSWERS", 7)
    _libc.msgget(key, IPC_CREAT | 0o666)
    _libc.semget(key, 1, IPC_CREAT | 0o666)
    _libc.mq_open(name.encode(), os.O_CREAT | os.O_RDWR, 0o666, None)
    return shmid

def find_left_behind(key, name):
    found = []
    shmid = _libc.shmget(key, 0, 0)
    if shmid >= 0:
        address = _libc.shmat(shmid, None, 0)
        found.append("shm " + ctypes.string_at(address, 7).decode())
    if _libc.msgget(key, 0) >= 0:
        found.append("msg")
    if _libc.semget(key, 0, 0) >= 0:
        found.append("sem")
    if _libc.mq_open(name.encode(), os.O_RDONLY, 0, None) >= 0:
        found.append("mq")
    return found
"""


def sysv_entries(key: int) -> dict[str, list[str]]:
    """The SysV IPC objects with `key` in this process's IPC namespace, the machine's: where they
    would outlive a sandbox and reach the next one."""
    found: dict[str, list[str]] = {}
    for table in SYSV_TABLES:
        lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]
        found[table] = [line for line in lines if line.split() and int(line.split()[0]) == key]
    return {table: lines for table, lines in found.items() if lines}


def sandbox_uid_entries() -> list[str]:
    """The machine's SysV objects owned by the sandbox uid (column `uid`)."""
    uid = str(get_settings().sandbox_uid)
    entries = []
    for table in SYSV_TABLES:
        header, *lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()
        column = header.split().index("uid")
        entries += [f"{table}: {line}" for line in lines if line.split()[column] == uid]
    return entries


def _remove_left_behind(key: int, name: str) -> None:
    """Clean up after a grader that lets them outlive the sandbox (today's bug)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    if (shmid := libc.shmget(key, 0, 0)) >= 0:
        libc.shmctl(shmid, ipc_rmid, None)
    if (msqid := libc.msgget(key, 0)) >= 0:
        libc.msgctl(msqid, ipc_rmid, None)
    if (semid := libc.semget(key, 0, 0)) >= 0:
        libc.semctl(semid, 0, ipc_rmid)
    libc.mq_unlink(name.encode())


@pytest.fixture
def ipc_names() -> Iterator[tuple[int, str]]:
    """A SysV key and a POSIX queue name no other test run uses; whatever they name is removed after."""
    key, name = random.randrange(1 << 24, 1 << 30), f"/grader-test-{random.randrange(1 << 30)}"
    yield key, name
    _remove_left_behind(key, name)


def attack(body: str) -> str:
    return CORRECT + "\n\n# --- the attack ---\n" + STUDENT_IPC + textwrap.dedent(body)


@pytest.fixture
def grade_source(engine, fast_hw2_rubric, tmp_path):
    def run(source: str):
        path = tmp_path / "hw2.py"
        path.write_text(source)
        return engine.grade(path.read_bytes(), path.name, fast_hw2_rubric)

    return run


def test_ipc_objects_of_a_submission_reach_no_later_submission_and_are_gone(grade_source, ipc_names):
    key, name = ipc_names
    before = sandbox_uid_entries()
    first = grade_source(attack(f"""
        leave_behind({key}, {name!r}, 64 * 1024 * 1024)
        print("left behind", {key})
    """))
    assert first.score == FULL
    assert "left behind" in first.student_output
    second = grade_source(attack(f"""
        found = find_left_behind({key}, {name!r})
        if found:
            raise RuntimeError("an earlier submission's data: %s" % found)
    """))
    assert second.score == FULL, second.question("1.1a").output
    assert sysv_entries(key) == {}
    assert [e for e in sandbox_uid_entries() if e not in before] == []
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mq_open(name.encode(), os.O_RDONLY, 0, None) < 0  # the queue is gone with its sandbox


def test_one_sandbox_cannot_see_what_another_live_sandbox_made(grade_source, ipc_names):
    """Even within one submission: the calls of a crashed sandbox's successor start clean."""
    key, name = ipc_names
    report = grade_source(attack(f"""
        _stash = {{}}
        def initial_loss(num_classes):
            if not _stash:
                _stash["id"] = leave_behind({key}, {name!r}, 4096)
            os._exit(1)  # the next call gets a fresh sandbox

        def initial_accuracy(num_classes):
            found = find_left_behind({key}, {name!r})
            if found:
                raise RuntimeError("found %s" % found)
            return 1.0 / num_classes
    """))
    assert report.question("1.3.4").score < report.question("1.3.4").max_score
    assert sysv_entries(key) == {}
    for q in report.questions:
        if q.grading == "auto" and q.id != "1.3.4":
            assert q.score == q.max_score, f"{q.id}: {q.output}"


def test_posix_shared_memory_files_are_refused(grade_source):
    name = f"grader-test-{random.randrange(1 << 30)}"
    report = grade_source(CORRECT + textwrap.dedent(f"""
        import os
        for path in ("/dev/shm/{name}", "/run/shm/{name}"):
            try:
                with open(path, "w") as handle:
                    handle.write("ANSWERS")
                print("wrote", path)
            except OSError as exc:
                print("refused", path, exc.errno)
    """))
    try:
        assert report.score == FULL
        assert "wrote" not in report.student_output, report.student_output
        assert not Path(f"/dev/shm/{name}").exists()
    finally:
        Path(f"/dev/shm/{name}").unlink(missing_ok=True)


def test_separate_grader_runs_share_nothing(tmp_path, ipc_names):
    """`grader grade` twice, as two runs of the CLI would: each opens an engine (a fork server of
    its own) and closes it when it ends; the second sees nothing of the first. Run in this
    process: the sandboxes are children of each engine's fork server, not of the command."""
    key, name = ipc_names
    writer, reader = tmp_path / "writer" / "hw2.py", tmp_path / "reader" / "hw2.py"
    writer.parent.mkdir()
    reader.parent.mkdir()
    writer.write_text(attack(f"leave_behind({key}, {name!r}, 4096)\n"))
    reader.write_text(attack(f"""
        found = find_left_behind({key}, {name!r})
        if found:
            raise RuntimeError("found %s" % found)
    """))
    assert cli_grading.open_engine is Engine  # a new engine per command, as in a process of its own
    for path in (writer, reader):
        done = CliRunner().invoke(cli.app, ["grade", str(path), "-a", "hw2", "--json"], catch_exceptions=False)
        assert done.exit_code == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["score"] == FULL, [t["output"] for t in result["tests"] if t["score"] < t["max_score"]]
    assert sysv_entries(key) == {}
