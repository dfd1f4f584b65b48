"""The HW2 rubric grades what it should: the reference gets everything, the handout nothing, and
every submission in harness/samples/ (whole files, and buggy patches on a correct base) exactly
the per-question scores in expected.toml, with exactly the known mistakes it names (one sample
at least for each of rubrics/hw2/misconceptions.py, and none for the correct styles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.rubric.misconceptions import load_misconceptions
from grader.rubric_spec import Rubric
from grader.scoring import GradeReport
from harness.samples import expected, submission_names, submission_source

ROOT = Path(__file__).resolve().parent.parent
HW2 = ROOT / "rubrics" / "hw2"
EXPECTED: dict[str, dict] = expected()


def auto_scores(report: GradeReport) -> dict[str, float]:
    return {q.id: q.score for q in report.questions if q.grading == "auto"}


def grade_submission(engine: Engine, rubric: Rubric, name: str) -> GradeReport:
    filename, text = submission_source(name)
    return engine.grade(text.encode(), filename, rubric)


def test_reference_gets_full_marks(grade) -> None:
    report = grade(HW2 / "reference.py")
    failed = {q.id: q.output for q in report.questions if q.grading == "auto" and q.score != q.max_score}
    assert failed == {}
    assert report.score == report.max_score == 37.0


@pytest.mark.parametrize(("variable", "value"), [("PYTEST_ADDOPTS", "-k nothing"), ("PYTEST_PLUGINS", "no_such_plugin"),
                                                ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "")])
def test_pytest_settings_in_the_environment_change_no_score(grade, monkeypatch, variable, value) -> None:
    """Whoever starts a worker or the command may have pytest settings in their environment (a
    PYTEST_ADDOPTS of `-k nothing` scored every submission 0, each question "passed")."""
    monkeypatch.setenv(variable, value)
    report = grade(HW2 / "reference.py")
    assert report.score == report.max_score == 37.0


def test_handout_gets_nothing_and_is_told_what_is_missing(grade) -> None:
    report = grade(HW2 / "handout" / "hw2.py")
    assert report.score == 0.0
    for q in report.questions:
        if q.grading == "auto":
            text = q.output.lower()
            assert "is not implemented (it raised notimplementederror" in text, (q.id, q.output)


def test_every_submission_has_expected_scores() -> None:
    assert sorted(set(submission_names()) - EXPECTED.keys()) == []


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_submission_scores(engine, hw2_rubric, stem: str) -> None:
    expected = EXPECTED[stem]
    report = grade_submission(engine, hw2_rubric, stem)
    want = {q.id: float(expected.get("questions", {}).get(q.id, q.points)) for q in hw2_rubric.auto_questions}
    got = auto_scores(report)
    wrong = {qid: (got[qid], want[qid]) for qid in want if got[qid] != pytest.approx(want[qid], abs=1e-4)}
    feedback = {q.id: q.output for q in report.questions if q.id in wrong}
    assert wrong == {}, f"(got, expected) per question: {wrong}\nfeedback: {feedback}"
    assert report.score == pytest.approx(expected["total"], abs=1e-4)
    named = {q.id: [m.id for m in q.misconceptions] for q in report.questions if q.misconceptions}
    assert named == expected.get("misconceptions", {})
    for q in report.questions:  # the feedback says each one, and the scores above are unchanged by it
        assert all(m.sentence in q.output for m in q.misconceptions)


def test_every_misconception_is_named_for_a_sample_with_that_mistake(hw2_rubric) -> None:
    shipped = {m.mistake.id for mistakes in load_misconceptions(hw2_rubric).values() for m in mistakes}
    named = {mistake for entry in EXPECTED.values() for ids in entry.get("misconceptions", {}).values()
             for mistake in ids}
    assert len(shipped) >= 20 and sorted(shipped - named) == [] and sorted(named - shipped) == []


def test_feedback_names_the_wrong_output_and_its_expected_shape(engine, hw2_rubric) -> None:
    report = grade_submission(engine, hw2_rubric, "buggy_jacobian_x_transposed")
    output = next(q.output for q in report.questions if q.id == "1.1c.iii")
    assert "conv1d_jacobian_x() J: expected shape (3, 5, 7), got (5, 3, 7) (and 1 more with the same message)" in output


def test_every_message_names_its_function_and_every_case_its_sizes(engine, hw2_rubric) -> None:
    report = grade_submission(engine, hw2_rubric, "buggy_conv2d_kernel_swapped")
    assert report.question("1.1a").output.splitlines()[-1] == (
        "- test_worked_example_shape[C3-H21-W12-K4x5-F8-S4]: conv2d_output_shape()[2] (W_out): expected 2, got 3"
        " (and 1 more with the same message)")
    stride = grade_submission(engine, hw2_rubric, "buggy_conv_ignores_stride").question("1.1c.ii").output
    assert "- test_conv1d_jacobian_W[C2-L11-K4-S3]: conv1d_jacobian_W() J: expected shape (3, 1, 2, 4)" in stride
    dh = grade_submission(engine, hw2_rubric, "buggy_dh_no_softmax_term").question("1.2.3e").output
    assert "attention_rnn_dh_dhprev() J: largest error" in dh and "at index (r=" in dh
    assert ("attention_rnn_dh_dhprev(): This matches a known mistake: only the direct a1*V1 term of "
            "dh[t]/dh[t-1]; the attention weights depend on h[t-1] too") in dh


def test_a_shape_returned_as_torch_size_is_a_tuple(engine, hw2_rubric) -> None:
    """correct_autograd asks nn.Conv2d for the shape (`conv(x).shape[1:]`), a torch.Size."""
    assert ".shape[1:]" in submission_source("correct_autograd")[1]
    report = grade_submission(engine, hw2_rubric, "correct_autograd")
    assert (report.question("1.1a").score, report.question("1.1b").score) == (1.0, 2.0)


def test_notebook_submission_keeps_its_ipython_lines() -> None:
    """correct_notebook.ipynb (37 points in expected.toml) must go on exercising what Jupyter runs
    and a plain module does not: magics and shell lines, `%time` assigning a name used below,
    a `%%time` cell that defines functions, display(), `from __future__ import annotations` in a
    code cell after the first (as pasted from the handout's hw2.py), a U+2028 in a comment, and
    IPython's own display helpers imported (a training loop's clear_output)."""
    notebook = json.loads(submission_source("correct_notebook")[1])
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    lines = [line for cell in code for line in cell.split("\n")]
    assert "%matplotlib inline" in lines and any(line.startswith("!pip") for line in lines)
    assert any(cell.startswith("%%timeit") for cell in code)
    assert "%time shape = conv2d_output_shape((3, 21, 12), (4, 5), 8, stride=4)\ndisplay(shape)" in code[2]
    assert any(cell.startswith("%%time\ndef gated_rnn_forward(") for cell in code)
    assert "\nfrom __future__ import annotations\n" in code[2] and "__future__" not in code[0]
    assert any(line.lstrip().startswith("#") and "\u2028" in line for line in lines)
    assert "from IPython.display import clear_output" in lines  # display() itself stays the grader's
    assert "display" not in code[0].replace("IPython.display", "")
    assert any(line.startswith("clear_output(wait=True)") for line in lines)
    assert any(cell["cell_type"] == "markdown" for cell in notebook["cells"])
