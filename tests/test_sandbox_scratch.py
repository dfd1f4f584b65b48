"""The scratch space of sandboxes: bounded in bytes and files, never left behind, whatever the
student leaves in it, and never taken from another live process's sandboxes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import Settings
from grader.engine import Engine
from grader.rubric_spec import Limits
from grader.sandbox.proxy import StudentModule, SubmissionSandbox
from harness.samples import submission_source
from tests.conftest import ROOT
from tests.fixtures.services import wait_until

CORRECT = submission_source("correct_vectorised")[1]
FULL = 37.0
QUOTA_MB, QUOTA_FILES = 8, 300
LIMITS = Limits(call_timeout_s=20, submission_timeout_s=60, memory_mb=512, cpu_time_s=20, max_file_mb=64)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs per sandbox needs root")


def reachable_directory() -> Iterator[Path]:
    """A fresh directory the sandbox uid can traverse (pytest's own are below a 0700 one)."""
    directory = Path(tempfile.mkdtemp(prefix="grader-test-"))
    os.chmod(directory, 0o711)
    yield directory
    for line in Path("/proc/self/mountinfo").read_text().splitlines():  # what a failed test left mounted
        if line.split()[4].startswith(f"{directory}/"):
            subprocess.run(["umount", "--lazy", line.split()[4]], check=False, capture_output=True)
    subprocess.run(["rm", "-rf", str(directory)], check=False)  # and left at any depth


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    yield from reachable_directory()


@pytest.fixture(scope="module")
def small_engine() -> Iterator[Engine]:
    """An engine whose sandboxes may store QUOTA_MB and QUOTA_FILES each."""
    directory = reachable_directory()
    settings = Settings(sandbox_root=next(directory) / "sandboxes", sandbox_scratch_mb=QUOTA_MB,
                        sandbox_scratch_files=QUOTA_FILES)
    with Engine(settings) as engine:
        yield engine
    next(directory, None)


@pytest.fixture
def sandboxed(small_engine: Engine) -> Iterator:
    opened: list[SubmissionSandbox] = []

    def make(source: str) -> StudentModule:
        box = small_engine._sandbox(textwrap.dedent(source), "student", LIMITS, "cpu")
        opened.append(box)
        return StudentModule(box)

    yield make
    for box in opened:
        box.close()


@needs_root
def test_bytes_written_are_bounded_per_sandbox(sandboxed):
    student = sandboxed("""
        def fill():
            written = 0
            try:
                for i in range(64):
                    with open("block%d" % i, "wb") as handle:
                        handle.write(b"x" * (1 << 20))
                    written += 1
            except OSError as exc:
                return written, exc.errno
            return written, 0
    """)
    written, error = student.fill()
    assert error == errno.ENOSPC
    assert written <= QUOTA_MB


@needs_root
def test_files_made_are_bounded_per_sandbox(sandboxed):
    student = sandboxed("""
        import os
        def fill():
            made = 0
            try:
                for i in range(5000):
                    if i % 2:
                        os.mkdir("d%d" % i)
                    else:
                        open("f%d" % i, "w").close()
                    made += 1
            except OSError as exc:
                return made, exc.errno
            return made, 0
    """)
    made, error = student.fill()
    assert error == errno.ENOSPC
    assert made <= QUOTA_FILES


@needs_root
def test_printed_output_counts_against_the_bound(sandboxed):
    """The captured output lives in the sandbox's own bounded space, not on the machine's disk."""
    student = sandboxed("""
        import errno, sys
        def shout():
            line = "x" * 1023 + "\\n"
            try:
                for _ in range(32 * 1024):
                    sys.stdout.write(line)
            except OSError as exc:
                return exc.errno
            return 0
    """)
    assert student.shout() == errno.ENOSPC


@needs_root
def test_a_full_sandbox_starves_no_other(small_engine, fast_hw2_rubric, tmp_path):
    """One submission fills its space; the spare sandbox, made meanwhile, grades the next one."""
    hog = CORRECT + textwrap.dedent("""
        import os
        try:
            for i in range(100000):
                with open("f%d" % i, "wb") as handle:
                    handle.write(b"x" * 65536)
        except OSError:
            os.remove("f0")  # room for its own output again
            print("full")
    """)
    report = small_engine.grade(hog.encode(), "hw2.py", fast_hw2_rubric)
    assert report.score == FULL and "full" in report.student_output
    report = small_engine.grade(CORRECT.encode(), "hw2.py", fast_hw2_rubric)
    assert report.score == FULL


def test_a_deep_locked_tree_is_removed_and_grading_goes_on(engine, fast_hw2_rubric):
    """3,000 nested directories, the deepest ones chmod 000, left in scratch at import."""
    attack = CORRECT + textwrap.dedent("""
        import os
        for _ in range(3000):
            os.mkdir("d")
            os.chdir("d")
        for _ in range(5):
            os.chdir("..")
            os.chmod("d", 0)
        print("built")
    """)
    report = engine.grade(attack.encode(), "hw2.py", fast_hw2_rubric)
    assert report.score == FULL, report.question("1.1a").output
    assert "built" in report.student_output
    left = [d for d in engine._scratch.directory.iterdir() if (d / "work" / "d").exists()]
    assert left == []


def test_removal_handles_any_depth_and_permissions_without_root(shared_dir):
    """Without root (a laptop), the tree is walked: deeper than Python's recursion limit, locked
    directories, symlinks out."""
    tree = shared_dir / "tree"
    outside = shared_dir / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not the sandbox's")
    script = textwrap.dedent(f"""
        import os
        os.mkdir({str(tree)!r})
        os.chdir({str(tree)!r})
        os.symlink({str(outside)!r}, "link")
        for i in range(1500):
            os.mkdir("d")
            open("f", "w").close()
            os.chdir("d")
        for _ in range(10):
            os.chdir("..")
            os.chmod("d", 0o300 if _ % 2 else 0)
        os.chdir({str(tree)!r})
        os.chmod("d", 0o500)
        from pathlib import Path
        from grader.sandbox.scratch import remove_tree
        remove_tree(Path({str(tree)!r}))
    """)
    os.chmod(shared_dir, 0o777)
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    done = subprocess.run([sys.executable, "-c", script], user=uid, group=uid if uid == 65534 else None,
                          extra_groups=[] if uid == 65534 else None, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not tree.exists()
    assert (outside / "keep").read_text() == "not the sandbox's"


def test_removal_as_root_never_follows_links(tmp_path):
    from grader.sandbox.scratch import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "link").symlink_to(outside)
    (tree / "link").symlink_to(outside / "keep")
    remove_tree(tree)
    assert not tree.exists() and (outside / "keep").exists()


HOLDER = """
import sys
from pathlib import Path
from grader.config import Settings
from grader.sandbox.scratch import Quota, ScratchArea

settings = Settings(sandbox_root=Path(sys.argv[1]))
area = ScratchArea(settings.sandbox_root, Quota(settings.sandbox_scratch_mb, settings.sandbox_scratch_files))
directory = area.create(settings.sandbox_uid, settings.sandbox_gid)
(directory / "work" / "hw2.py").write_text("x = 1\\n")
print(directory, flush=True)
sys.stdin.read()
area.close()
"""


def _start_holder(root: Path) -> tuple[subprocess.Popen, Path]:
    """A process with a scratch area under `root`, made as an engine makes its own (without the
    engine's torch and fork server, which the sweep never looks at), and a sandbox directory in it
    with hw2.py written; it prints the sandbox's directory and holds it until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_engine_start_removes_what_dead_processes_left_and_nothing_of_live_ones(shared_dir):
    root = shared_dir / "sandboxes"
    live, live_dir = _start_holder(root)
    dead, dead_dir = _start_holder(root)
    try:
        assert (live_dir / "work" / "hw2.py").exists() and (dead_dir / "work" / "hw2.py").exists()
        os.kill(dead.pid, signal.SIGKILL)
        wait_until(lambda: Path(f"/proc/{dead.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z",
                   30, "the killed process to be a zombie")  # gone, though its parent has not reaped it
        assert (dead_dir / "work" / "hw2.py").exists()  # left behind, as by a SIGKILLed worker

        with Engine(Settings(sandbox_root=root)):
            assert not dead_dir.exists()
            assert not dead_dir.parent.exists()
            assert (live_dir / "work" / "hw2.py").read_text() == "x = 1\n"
        dead.wait()
        assert str(dead_dir) not in Path("/proc/self/mountinfo").read_text()
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(timeout=60)
    assert not live_dir.exists()
    assert list(root.iterdir()) == []


@needs_root
def test_without_root_the_quota_is_off_said_so_and_nothing_is_left(unprivileged_runs):
    """As on a laptop: no tmpfs can be mounted, `grader sandbox check` says the layer is off,
    and a graded submission still leaves nothing behind, however deep its tree (DEEP_LOCKED_TREE)."""
    check, graded = unprivileged_runs.check, unprivileged_runs.graded
    assert check.returncode == 0, check.stderr
    table = " ".join(check.stdout.replace("│", " ").split())
    assert "off: no tmpfs per sandbox, so bytes and files are unbounded" in table
    assert graded.returncode == 0, graded.stderr
    assert json.loads(graded.stdout)["score"] == FULL
    assert list(unprivileged_runs.sandbox_root.iterdir()) == []
