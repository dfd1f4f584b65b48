"""The `grader` command: run in this process on the session's warm engine (`grader_cli`), and as a
fresh process of another user where that process is the point (no cgroups, no uid switch; the
runs of `unprivileged_runs` are shared with the scratch space's tests)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.samples import submission_source
from tests.conftest import ROOT, run_unprivileged, unprivileged_directory

HW2 = ROOT / "rubrics" / "hw2"


def submission_file(directory: Path, name: str) -> str:
    """The submission `name` (harness/samples/) written to `directory`, for the command line to grade."""
    filename, text = submission_source(name)
    path = directory / filename
    path.write_text(text)
    return str(path)


def test_grade_json_is_one_gradescope_document(grader_cli, tmp_path):
    done = grader_cli("grade", submission_file(tmp_path, "buggy_grad_W_ones"), "--assignment", "hw2", "--json")
    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"score", "execution_time", "output", "tests"}
    assert result["score"] == 32.0
    numbers = [t["number"] for t in result["tests"]]
    assert numbers[:3] == ["1.1a", "1.1b", "1.1c.i"] and "1.2.1a" not in numbers  # manual ones excluded
    entry = next(t for t in result["tests"] if t["number"] == "1.1c.iv")
    assert set(entry) == {"name", "number", "score", "max_score", "status", "output", "visibility", "extra_data"}
    summary = (entry["score"], entry["max_score"], entry["status"], entry["visibility"])
    assert summary == (0, 5, "failed", "after_due_date")
    assert "largest error" in entry["output"]
    assert "This matches a known mistake: an all-ones upstream gradient" in entry["output"]
    extra = entry["extra_data"]
    assert (extra["misconception"], extra["misconceptions"]) == ("grad-W-ones-upstream", ["grad-W-ones-upstream"])
    signatures = extra["signature"]  # one hex digest per failed case and function
    assert len(signatures) == 5 and all(list(s) == ["conv1d_grad_W"] for s in signatures.values())
    assert all(len(d) == 16 and int(d, 16) >= 0 for s in signatures.values() for d in s.values())
    assert all("extra_data" not in t for t in result["tests"] if t["status"] == "passed")


def test_grade_prints_a_table_and_exits_zero_for_a_zero_score(grader_cli):
    done = grader_cli("grade", str(HW2 / "handout" / "hw2.py"), "-a", "hw2")
    assert done.exit_code == 0, done.stderr
    assert "0 / 37 auto points" in done.stdout
    assert "is not implemented" in done.stdout and "manual" in done.stdout


def test_the_tables_title_and_caption_never_break_mid_phrase(grader_cli):
    done = grader_cli("grade", str(HW2 / "handout" / "hw2.py"), "-a", "hw2", env={"COLUMNS": "40"})
    assert done.exit_code == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert "hw2: 0 / 37 auto points" in lines, done.stdout
    assert any(re.fullmatch(r"rubric [0-9a-f]{16}, cpu, \d+\.\d\d s", line) for line in lines), done.stdout


def test_grade_a_notebook(grader_cli, tmp_path):
    done = grader_cli("grade", submission_file(tmp_path, "correct_notebook"), "-a", "hw2", "--json")
    assert json.loads(done.stdout)["score"] == 37.0


def test_an_unknown_assignment_is_a_grader_error(grader_cli):
    done = grader_cli("grade", str(HW2 / "reference.py"), "-a", "hw99")
    assert done.exit_code == 2
    assert "no rubric.toml" in done.stderr


def test_rubric_check_grades_the_reference(grader_cli):
    done = grader_cli("rubric", "check", str(HW2))
    assert done.exit_code == 0, done.stdout + done.stderr
    said = " ".join(done.stdout.split())  # as Rich wrapped it
    assert "ok: 20 questions, 58 tests, 37 auto + 13 manual points; 25 misconceptions used on 86 cases: " \
           "the reference matches none, and each is named wherever it fails" in said


def test_rubric_check_finds_a_case_where_a_known_mistake_gives_the_right_answer(grader_cli, tmp_path):
    """1.2.3e once had a case whose attention scores were all about 0.005: the softmax's part of
    the Jacobian was far below the tolerance, and a diagonal-only derivative passed it."""
    degenerate = tmp_path / "hw2"
    shutil.copytree(HW2, degenerate)
    tests = degenerate / "test_attention_rnn.py"
    text = tests.read_text()
    assert 'pytest.param(7830, 1, False, id="n1")' in text
    tests.write_text(text.replace('pytest.param(7830, 1, False, id="n1")', 'pytest.param(830, 1, False, id="n1")'))
    done = grader_cli("rubric", "check", str(degenerate))
    assert done.exit_code == 2
    problems = " ".join(done.stderr.split())
    assert ("test_dh_dhprev[n1]: misconception 'dh-softmax-diagonal' of attention_rnn_dh_dhprev() gives the "
            "reference's answer within the tolerance, so this case cannot tell them apart (a degenerate case"
            ) in problems
    assert problems.count("- test_") == 1, problems


def test_rubric_check_fails_when_the_reference_loses_points(grader_cli, tmp_path):
    broken = tmp_path / "hw2"
    shutil.copytree(HW2, broken)
    reference = broken / "reference.py"
    reference.write_text(reference.read_text().replace("return math.log(num_classes)", "return 0.0"))
    done = grader_cli("rubric", "check", str(broken))
    assert done.exit_code == 2
    assert "the reference earns" in done.stderr


def test_sandbox_check_lists_every_layer(grader_cli):
    done = grader_cli("sandbox", "check")
    assert done.exit_code == 0
    for layer in ("network", "cgroup", "rlimits", "uid", "landlock", "seccomp"):
        assert layer in done.stdout
    if os.geteuid() == 0 and os.environ.get("CI"):
        assert "off" not in done.stdout, done.stdout  # CI machines have every layer


@pytest.fixture
def scratch() -> Iterator[Path]:
    with unprivileged_directory() as directory:
        yield directory


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
def test_missing_layers_are_reported_and_grading_still_runs(unprivileged_runs):
    check, done = unprivileged_runs.check, unprivileged_runs.graded
    assert check.returncode == 0, check.stderr
    assert "grading runs, but without:" in check.stderr and "uid" in check.stderr
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["score"] == 37.0
    assert "Isolation warnings:" in result["output"]


# Leaves a file in its own directory and keeps it there a while, so that a test can see it ran.
LEAVES_A_MARK = textwrap.dedent("""
    import pathlib, time
    pathlib.Path("student-code-ran").write_text("")
    time.sleep(3)
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
def test_production_mode_refuses_to_grade_without_every_layer(scratch, launcher, unprivileged_template):
    """The refusal comes before the submission's code runs: in a sandbox without its layers the
    code could reach what those layers guard, whatever happens to its score afterwards."""
    submission = scratch / "hw2.py"
    submission.write_text(LEAVES_A_MARK)
    stop, marks = threading.Event(), []

    def watch() -> None:
        while not stop.wait(0.02) and not marks:
            # A sandbox folder removed while it is listed must not end the watch: the check would pass unseen.
            with contextlib.suppress(FileNotFoundError):
                marks.extend(scratch.rglob("student-code-ran"))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = run_unprivileged(launcher, scratch, unprivileged_template, "grade", str(submission), "-a", "hw2",
                                GRADER_REQUIRE_ISOLATION="true")
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 2
    assert "refusing to grade: isolation layers missing" in done.stderr
    assert marks == [], "the submission ran in a sandbox without every layer before grading was refused"
