"""A sandbox root the sandbox uid cannot reach fails every import: that is the machine's fault,
so grading is refused with an error the service retries, never turned into a score of 0."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import cli
from grader.config import Settings, get_settings
from grader.engine import Engine
from grader.services.faults import INFRASTRUCTURE_ERRORS
from harness.samples import submission_source

CORRECT = submission_source("correct_vectorised")[1].encode()
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="without root the sandbox runs as this user")


@pytest.fixture
def parent() -> Iterator[Path]:
    """A directory that only root may traverse (0700, as mkdtemp makes it)."""
    directory = Path(tempfile.mkdtemp(prefix="grader-test-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_an_unreachable_root_refuses_to_grade_instead_of_scoring_zero(parent, fast_hw2_rubric, caplog):
    with caplog.at_level(logging.ERROR, logger="grader.engine"):
        with Engine(Settings(sandbox_root=parent / "sandboxes")) as engine:
            with pytest.raises(INFRASTRUCTURE_ERRORS, match="uid 65534 cannot write in its sandbox directory"):
                engine.grade(CORRECT, "hw2.py", fast_hw2_rubric)
    assert "GRADER_SANDBOX_ROOT" in caplog.text  # said at engine start (a worker's start-up)


def test_grading_resumes_once_the_root_is_fixed(parent, fast_hw2_rubric):
    with Engine(Settings(sandbox_root=parent / "sandboxes")) as engine:
        with pytest.raises(INFRASTRUCTURE_ERRORS):
            engine.grade(CORRECT, "hw2.py", fast_hw2_rubric)
        os.chmod(parent, 0o711)
        assert engine.grade(CORRECT, "hw2.py", fast_hw2_rubric).score == 37.0


def test_a_root_that_becomes_unreachable_while_running_is_no_student_fault(parent, fast_hw2_rubric):
    """The sandbox that cannot read its own file says so before any student code runs."""
    os.chmod(parent, 0o711)
    with Engine(Settings(sandbox_root=parent / "sandboxes")) as engine:
        assert engine.grade(CORRECT, "hw2.py", fast_hw2_rubric).score == 37.0  # leaves a spare ready
        os.chmod(parent, 0o700)
        with pytest.raises(INFRASTRUCTURE_ERRORS, match="could not read its own file"):
            engine.grade(CORRECT, "hw2.py", fast_hw2_rubric)


def test_sandbox_check_reports_an_unreachable_root(parent):
    """`grader sandbox check` in this process, on an engine of its own made from GRADER_SANDBOX_ROOT."""
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli.app, ["sandbox", "check"], env={"GRADER_SANDBOX_ROOT": str(parent / "sandboxes")},
                                  catch_exceptions=False)
    finally:
        get_settings.cache_clear()  # the settings of the variables as they are again
    assert done.exit_code == 2, done.stdout + done.stderr
    said = " ".join(done.stderr.split())  # as rich wrapped it
    assert "cannot write in its sandbox directory" in said and "GRADER_SANDBOX_ROOT" in said


def test_an_area_removed_from_under_the_engine_is_made_again(parent, fast_hw2_rubric):
    """A /tmp cleaner (or an operator) that takes the engine's directory away costs no grade."""
    os.chmod(parent, 0o711)
    with Engine(Settings(sandbox_root=parent / "sandboxes")) as engine:
        assert engine.grade(CORRECT, "hw2.py", fast_hw2_rubric).score == 37.0
        area = engine._scratch.directory
        subprocess.run(["umount", "--lazy", str(area)], check=True)
        area.rmdir()
        assert engine.grade(CORRECT, "hw2.py", fast_hw2_rubric).score == 37.0
        assert engine._scratch.directory != area
