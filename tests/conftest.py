"""Shared fixtures: one warm engine for the session, the HW2 rubric, a `grade` helper, the
`grader` command run in this process on that engine, and run once by an unprivileged user."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result
from typer.testing import CliRunner

from grader import cli, cli_grading
from grader.config import get_settings
from grader.engine import Engine
from grader.rubric_spec import Rubric, load_rubric
from grader.scoring import GradeReport
from harness.samples import submission_source
from harness.servers import wait_until

if TYPE_CHECKING:  # the module is a plugin (pytest_plugins below): pytest imports it, to rewrite its asserts
    from tests.fixtures.services import Launcher

pytest_plugins = ["tests.fixtures.services"]

ROOT = Path(__file__).resolve().parent.parent

# Hostile code is appended to a correct submission, so that every score it lowers is its doing.
CORRECT = submission_source("correct_vectorised")[1]
ATTACK_HEADER = "\n\n# --- the attack ---\n"


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the session has loaded by now (torch, the test modules, their imports) lives as long
    as it does: frozen, the collector's full passes no longer walk it at every test."""
    gc.collect()
    gc.freeze()


def start_template(path: Path, cwd: Path | str = "/", env: dict[str, str] | None = None,
                   start_new_session: bool = False, unprivileged: bool = False) -> subprocess.Popen[bytes]:
    """`python -m grader.sandbox.template PATH` (as uid 65534 if `unprivileged`), once a socket is at
    `path` (a template already there counts: a restart's caller waits for the new one's own)."""
    as_user = AS_UNPRIVILEGED if unprivileged else []
    process = subprocess.Popen([*as_user, sys.executable, "-m", "grader.sandbox.template", str(path)], cwd=cwd, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               start_new_session=start_new_session)
    wait_until(lambda: path.exists() or process.poll() is not None, 120, "the fork-server template to listen")
    if process.poll() is not None:
        pytest.fail(f"the fork-server template exited with {process.returncode}")
    return process


@pytest.fixture(scope="session", autouse=True)
def sandbox_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One fork-server template for the session, named by GRADER_SANDBOX_TEMPLATE to this process and
    to the workers, servers and commands the tests start: their engines' fork servers are forked
    from it instead of each importing torch. The unprivileged runs have one of their own
    (`unprivileged_template`); the benchmark, whose figures read each fork server as its engine's
    child, starts its servers cold."""
    path = tmp_path_factory.mktemp("sandbox-template") / "template.sock"
    process = start_template(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_SANDBOX_TEMPLATE", str(path))
        get_settings.cache_clear()
        yield path
    get_settings.cache_clear()
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine() as warm:
        yield warm


@pytest.fixture(scope="session")
def hw2_rubric() -> Rubric:
    return load_rubric(ROOT / "rubrics" / "hw2")


@pytest.fixture(scope="session")
def fast_hw2_rubric(tmp_path_factory: pytest.TempPathFactory) -> Rubric:
    """HW2 with short time limits, for submissions that hang or spin on purpose."""
    directory = tmp_path_factory.mktemp("rubrics") / "hw2"
    shutil.copytree(ROOT / "rubrics" / "hw2", directory, ignore=shutil.ignore_patterns("__pycache__"))
    toml = directory / "rubric.toml"
    text = toml.read_text()
    for key, value in (("call_timeout_s", 1), ("import_timeout_s", 1), ("submission_timeout_s", 60), ("cpu_time_s", 30),
                       ("memory_mb", 512)):
        text = "\n".join(f"{key} = {value}" if line.startswith(f"{key} =") else line for line in text.splitlines())
    toml.write_text(text + "\n")
    return load_rubric(directory)


@pytest.fixture(scope="session")
def grade(engine: Engine, hw2_rubric: Rubric) -> Callable[..., GradeReport]:
    """grade(path, rubric=None) -> the report of grading that file against HW2 (or `rubric`)."""
    def run(path: Path | str, rubric: Rubric | None = None) -> GradeReport:
        path = Path(path)
        return engine.grade(path.read_bytes(), path.name, rubric or hw2_rubric)

    return run


@pytest.fixture
def grader_cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """grader_cli(*args, env=None) -> the result of `grader ARGS` run in this process (Typer's
    CliRunner: exit code, stdout and stderr apart) on the session's warm engine, so a command
    neither imports torch nor starts a fork server of its own. Tests for which the process itself
    is the point (another uid, what reaches the real stdout) start `python -m grader` instead."""
    monkeypatch.setattr(cli_grading, "open_engine", lambda: contextlib.nullcontext(engine))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli.app, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def grade_attack(engine: Engine, fast_hw2_rubric: Rubric, tmp_path: Path) -> Callable[..., GradeReport]:
    """grade_attack(code, call_timeout_s=None) -> the report for a correct submission with `code`
    appended (graded with that call limit, if given)."""
    def run(code: str, call_timeout_s: float | None = None) -> GradeReport:
        path = tmp_path / "hw2.py"
        path.write_text(CORRECT + ATTACK_HEADER + textwrap.dedent(code))
        rubric = fast_hw2_rubric
        if call_timeout_s is not None:
            limits = dataclasses.replace(rubric.limits, call_timeout_s=call_timeout_s)
            rubric = dataclasses.replace(rubric, limits=limits)
        return engine.grade(path.read_bytes(), path.name, rubric)

    return run


UNPRIVILEGED_UID = 65534
# A command's prefix that runs it as that uid, without groups.
AS_UNPRIVILEGED = ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups"]
# A correct submission that leaves a tree deeper than the recursion limit, locked, in its scratch.
DEEP_LOCKED_TREE = CORRECT + textwrap.dedent("""
    import os
    for _ in range(1200):
        os.mkdir("d")
        os.chdir("d")
    os.chmod(".", 0)
""")


@contextlib.contextmanager
def unprivileged_directory() -> Iterator[Path]:
    """A directory of uid 65534 (pytest's own tmp_path is inside a root-only folder), removed after."""
    directory = Path(tempfile.mkdtemp(prefix="grader-unprivileged-"))
    os.chmod(directory, 0o755)
    os.chown(directory, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _unprivileged_environment(directory: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(directory)}


def run_unprivileged(launcher: Launcher, directory: Path, template: Path, *args: str,
                     **env: str) -> subprocess.CompletedProcess[str]:
    """`grader ARGS` as uid 65534, where cgroups, the uid switch, namespaces and tmpfs mounts are
    unavailable, as on a laptop; `directory` is its home, data directory and sandbox root's parent,
    and its fork server is forked from `template` (`unprivileged_template`)."""
    environment = {**_unprivileged_environment(directory), "GRADER_SANDBOX_ROOT": str(directory / "boxes"),
                   "GRADER_DATA_DIR": str(directory), "GRADER_SANDBOX_TEMPLATE": str(template), **env}
    return launcher.run(["grader", *args], environment, uid=UNPRIVILEGED_UID)


@dataclasses.dataclass(frozen=True)
class UnprivilegedRuns:
    check: subprocess.CompletedProcess[str]  # `grader sandbox check`
    graded: subprocess.CompletedProcess[str]  # `grader grade DEEP_LOCKED_TREE --json`
    sandbox_root: Path


@pytest.fixture(scope="session")
def unprivileged_template() -> Iterator[Path]:
    """A fork-server template of uid 65534 for the unprivileged runs (an engine takes its fork
    server only from a template of its own uid): it lacks the same layers as their own servers
    would, and a test checks that a sandbox sees the same process from either kind of server."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    with unprivileged_directory() as directory:
        process = start_template(directory / "template.sock", env=_unprivileged_environment(directory),
                                 unprivileged=True)
        yield directory / "template.sock"
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def unprivileged_runs(launcher: Launcher, unprivileged_template: Path) -> Iterator[UnprivilegedRuns]:
    """`grader sandbox check` and `grader grade` of DEEP_LOCKED_TREE as uid 65534, for every test
    of what the commands say and leave without privileges. Run once for them all: each run is a
    process of its own."""
    with unprivileged_directory() as directory:
        submission = directory / "hw2.py"
        submission.write_text(DEEP_LOCKED_TREE)
        check = run_unprivileged(launcher, directory, unprivileged_template, "sandbox", "check")
        graded = run_unprivileged(launcher, directory, unprivileged_template, "grade", str(submission), "-a", "hw2",
                                  "--json")
        yield UnprivilegedRuns(check, graded, directory / "boxes")
