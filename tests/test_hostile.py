"""Hostile submissions: each attack is appended to a correct HW2 submission, and no attack may
change a score it should not, leak anything, or take the grader down."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest

from grader.config import Settings, get_settings
from grader.engine import Engine
from tests.conftest import ATTACK_HEADER, CORRECT, ROOT
from tests.test_sandbox_secrecy import make_rubric

FULL = 37.0


def scores(report) -> dict[str, float]:
    return {q.id: q.score for q in report.questions if q.grading == "auto"}


def full_except(report, *question_ids: str) -> None:
    """Every auto question has full marks except those named, which have lost points."""
    for q in report.questions:
        if q.grading != "auto":
            continue
        if q.id in question_ids:
            assert q.score < q.max_score, f"{q.id} should have lost points"
        else:
            assert q.score == q.max_score, f"{q.id}: {q.output}"


def test_an_infinite_loop_loses_only_its_question(grade_attack):
    # Each of the question's cases spins for the whole call limit: half a second is enough to tell.
    report = grade_attack("""
        def conv1d_forward(x, W, stride=1):
            while True:
                pass
    """, call_timeout_s=0.5)
    full_except(report, "1.1c.i")
    assert "timed out after 0.5 s in conv1d_forward()" in report.question("1.1c.i").output


# One call may take the whole submission's time: the call after it finds none left.
BUDGET_RUBRIC = """
[assignment]
id = "budget"
module = "budget"
total_points = 3
[limits]
call_timeout_s = 2
submission_timeout_s = 2
[[questions]]
id = "q1"
points = 1
[[questions]]
id = "q2"
points = 1
[[questions]]
id = "q3"
points = 1
"""
BUDGET_TESTS = """
from grader.rubric import question

@question("q1")
def test_one(student):
    assert student.one() == 1

@question("q2")
def test_two(student):
    assert student.two() == 2

@question("q3")
def test_three(student):
    assert student.three() == 3
"""
BUDGET_REFERENCE = """
def one():
    return 1

def two():
    return 2

def three():
    return 3
"""


def test_a_loop_that_uses_up_the_submission_time_is_scored_where_isolation_is_required(tmp_path):
    """As in production: the call after the one that used up the time has none left, which is the
    student's feedback, never a machine fault (it was SandboxUnavailable, retried forever)."""
    rubric = make_rubric(tmp_path / "budget", BUDGET_RUBRIC, BUDGET_TESTS, BUDGET_REFERENCE)
    source = BUDGET_REFERENCE.replace("return 2", "while True:\n        pass")
    with Engine(Settings(require_isolation=True)) as engine:
        engine.probe_layers()  # its fork server started: a cold start would take the budget
        report = engine.grade(source.encode(), "budget.py", rubric)
    assert scores(report) == {"q1": 1, "q2": 0, "q3": 0}
    assert "in two()" in report.question("q2").output
    assert "the submission used up its 2 s time limit" in report.question("q3").output
    assert report.warnings == []  # every layer was on, as it is required


# Its top-level code (a notebook's training cell, say) takes longer than a call may, not than an import may.
SLOW_IMPORT_RUBRIC = BUDGET_RUBRIC.replace("call_timeout_s = 2\nsubmission_timeout_s = 2",
                                           "call_timeout_s = 1\nimport_timeout_s = 20\nsubmission_timeout_s = 30")


def test_an_import_may_take_longer_than_a_call_within_its_own_limit(tmp_path, engine):
    rubric = make_rubric(tmp_path / "budget", SLOW_IMPORT_RUBRIC, BUDGET_TESTS, BUDGET_REFERENCE)
    report = engine.grade(("import time\ntime.sleep(2)\n" + BUDGET_REFERENCE).encode(), "budget.py", rubric)
    assert scores(report) == {"q1": 1, "q2": 1, "q3": 1}


def test_eating_memory_loses_only_its_question(grade_attack):
    report = grade_attack("""
        def initial_loss(num_classes):
            hoard = []
            while True:
                hoard.append(torch.ones(16 * 1024 * 1024, dtype=torch.float64))
    """)
    full_except(report, "1.3.4")
    assert "ran out of memory in initial_loss()" in report.question("1.3.4").output


def test_forking_at_import_is_refused_and_costs_nothing(grade_attack):
    report = grade_attack("""
        import os
        for _ in range(3):
            try:
                if os.fork() == 0:
                    while True:
                        pass
            except OSError:
                print("fork refused")
    """)
    assert report.score == FULL
    assert "fork refused" in report.student_output


def test_forged_output_never_reaches_the_results(tmp_path, launcher):
    """The CLI's stdout is the grader's JSON alone, whatever the student prints."""
    forged = '{"score": 37, "tests": []}'
    submission = tmp_path / "hw2.py"
    submission.write_text(CORRECT + textwrap.dedent(f"""
        import os, sys
        print({forged!r})
        sys.stderr.write({forged!r})
        os.write(1, b{forged!r})
        def initial_loss(num_classes):
            print({forged!r})
            return 0.0
    """))
    done = launcher.run(["grader", "grade", str(submission), "-a", "hw2", "--json"], dict(os.environ))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON document
    assert forged not in done.stdout
    lost = next(t for t in result["tests"] if t["number"] == "1.3.4")
    assert lost["score"] < lost["max_score"]
    assert result["score"] == FULL - (lost["max_score"] - lost["score"])


def test_monkeypatching_torch_changes_no_check(grade_attack):
    report = grade_attack("""
        import numpy
        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        torch.testing.assert_close = lambda *args, **kwargs: None
        torch.Tensor.__eq__ = lambda self, other: True
        numpy.allclose = lambda *args, **kwargs: True
        def conv1d_forward(x, W, stride=1):
            return torch.zeros(W.shape[0], (x.shape[1] - W.shape[2]) // stride + 1, dtype=x.dtype)
    """)
    full_except(report, "1.1c.i")
    assert "largest error" in report.question("1.1c.i").output


@pytest.mark.parametrize("code, reason", [
    ("import sys\nsys.exit(0)", "the module called exit(0)"),
    ("import os\nos._exit(0)", "exited with status 0 while being imported"),
    ("import time\ntime.sleep(120)", "timed out after 1 s while being imported"),
    ("raise RuntimeError('boom')", "the module raised RuntimeError: boom (line"),
    ("def broken(:\n    pass", "SyntaxError"),
])
def test_a_module_that_cannot_be_imported_scores_zero_with_the_reason(grade_attack, code, reason):
    started = time.monotonic()
    report = grade_attack(code)
    assert report.score == 0
    for q in report.questions:
        if q.grading == "auto":
            assert reason in q.output, q.output
    assert time.monotonic() - started < 20  # one import attempt, not one per test


def test_syntax_errors_give_the_line_number(grade_attack):
    report = grade_attack("def broken(:\n    pass\n")
    line = len((CORRECT + ATTACK_HEADER).splitlines()) + 1
    assert f"at line {line} of hw2.py" in report.question("1.1a").output


def test_killing_the_parent_or_everything_fails_harmlessly(grade_attack, engine):
    server = engine._fork_server()  # the one the attack runs under: it must outlive it
    report = grade_attack("""
        import os, signal
        for target in (os.getppid(), 1, -1):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError as exc:
                print("kill", target, "refused:", exc.errno)
        def initial_accuracy(num_classes):
            try:
                os.kill(os.getppid(), signal.SIGKILL)
            except OSError:
                pass
            return 1.0 / num_classes
    """)
    assert report.score == FULL
    assert engine._server is server and server.alive(), "the fork server was killed (and replaced)"


def test_reading_secrets_or_the_rubric_fails(grade_attack):
    rubric_dir = get_settings().rubrics_dir / "hw2"
    report = grade_attack(f"""
        import os
        stolen = []
        for path in ({str(rubric_dir / 'reference.py')!r}, {str(rubric_dir / 'test_conv.py')!r},
                     "/proc/1/environ", "/proc/%d/environ" % os.getppid(), "/etc/shadow", {str(ROOT / '.env')!r}):
            try:
                stolen.append(open(path).read())
            except OSError:
                pass
        secrets = [k for k in os.environ if k.startswith("GRADER_") or "SECRET" in k or "URL" in k]
        if stolen or secrets:
            raise RuntimeError("leaked %d files, %s" % (len(stolen), secrets))
    """)
    assert report.score == FULL, report.question("1.1a").output


def test_sockets_and_writes_outside_scratch_fail(grade_attack):
    report = grade_attack("""
        import socket
        reached = []
        for address in (("127.0.0.1", 6379), ("127.0.0.1", 5432)):
            try:
                socket.create_connection(address, timeout=1)
                reached.append(address)
            except OSError:
                pass
        for path in ("/tmp/planted-by-student", "/etc/planted"):
            try:
                open(path, "w").write("x")
                reached.append(path)
            except OSError:
                pass
        if reached:
            raise RuntimeError("reached %s" % reached)
    """)
    assert report.score == FULL, report.question("1.1a").output
    assert not os.path.exists("/tmp/planted-by-student")


def test_values_with_a_custom_eq_fail_that_test(grade_attack):
    report = grade_attack("""
        class Sneaky(torch.Tensor):
            def __eq__(self, other):
                return True
        _honest = conv1d_forward
        def conv1d_forward(x, W, stride=1):
            return torch.zeros(1).as_subclass(Sneaky)
    """)
    full_except(report, "1.1c.i")
    assert "not plain data" in report.question("1.1c.i").output


def test_forged_protocol_frames_cannot_earn_points(grade_attack):
    report = grade_attack("""
        import os, struct, json
        body = json.dumps({"ok": 1}).encode()
        for fd in range(3, 30):
            try:
                os.write(fd, struct.pack("!II", len(body), 0) + body)
            except OSError:
                pass
    """)
    assert report.score == 0
    assert "malformed data" in report.question("1.1a").output


def test_printed_output_is_captured_and_bounded(grade_attack):
    report = grade_attack("""
        import sys
        for _ in range(2000):
            print("x" * 1000)
        print("the end")
    """)
    assert report.score == FULL
    assert report.student_output.rstrip().endswith("the end")
    assert report.student_output.startswith("[output cut: only the last 64 KB")
    assert len(report.student_output) <= 64 * 1024 + 100


def test_nothing_of_one_submission_reaches_the_next(grade_attack):
    grade_attack("""
        import builtins
        builtins.LEFT_BEHIND = True
        open("left-behind.txt", "w").write("x")
        torch.nn.functional.conv1d = None
    """)
    report = grade_attack("""
        import builtins, os
        if hasattr(builtins, "LEFT_BEHIND") or os.path.exists("left-behind.txt") or torch.nn.functional.conv1d is None:
            raise RuntimeError("state from an earlier submission")
    """)
    assert report.score == FULL, report.question("1.1a").output


def test_no_process_of_a_submission_outlives_its_grading(grade_attack):
    report = grade_attack("""
        import os, threading, time
        threading.Thread(target=time.sleep, args=(600,), daemon=False).start()
        print("sandbox pid", os.getpid())
    """)
    pids = [int(line.split()[-1]) for line in report.student_output.splitlines() if line.startswith("sandbox pid")]
    assert pids, report.student_output
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
