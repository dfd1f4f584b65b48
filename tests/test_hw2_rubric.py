"""The HW2 rubric grades what it should: the reference gets everything, the handout nothing, and
every submission in harness/samples/ (whole files, and buggy patches on a correct base) exactly
the per-question scores in expected.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine import Engine
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


def test_feedback_names_the_wrong_output_and_its_expected_shape(engine, hw2_rubric) -> None:
    report = grade_submission(engine, hw2_rubric, "buggy_jacobian_x_transposed")
    output = next(q.output for q in report.questions if q.id == "1.1c.iii")
    assert "J: expected shape (3, 5, 7), got (5, 3, 7)" in output


def test_notebook_submission_keeps_its_ipython_lines() -> None:
    """correct_notebook.ipynb must go on exercising magics and shell lines, which are not Python."""
    notebook = json.loads(submission_source("correct_notebook")[1])
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert any(line.strip() == "%matplotlib inline" for cell in code for line in cell.splitlines())
    assert any(line.strip().startswith("!pip") for cell in code for line in cell.splitlines())
    assert any(cell.startswith("%%timeit") for cell in code)
    assert any(cell["cell_type"] == "markdown" for cell in notebook["cells"])
