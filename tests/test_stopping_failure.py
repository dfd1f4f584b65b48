"""A failure of every check of a run, across its questions, is said once (the submission's error)
instead of under each question; anything less stays feedback per question."""

from __future__ import annotations

from grader.db.models import GradingRun, TestResult
from grader.services.run_errors import stopping_failure

IMPORT_ERROR = ("importing the submission failed: the module raised RuntimeError: broken at import "
                "(line 199 of hw2.py)")


def run_of(*tests: tuple[str, bool, str]) -> GradingRun:
    """A run with its test cases, (question, passed, message) each, as the results store them."""
    return GradingRun(tests=[TestResult(name=f"case{i}", question_id=question, feedback=message,
                                        status="passed" if passed else "failed", score=0.0, max_score=1.0,
                                        visibility="visible")
                             for i, (question, passed, message) in enumerate(tests)])


def test_one_failure_of_every_check_is_found_whichever_functions_each_case_names() -> None:
    run = run_of(("1.1a", False, f"conv2d_output_shape(): {IMPORT_ERROR}"),
                 ("1.1b", False, f"conv_output_size(): {IMPORT_ERROR}"),
                 ("1.2.3b", False, f"attend(), attention_rnn_forward(): {IMPORT_ERROR}"),
                 ("1.3.4", False, IMPORT_ERROR))
    assert stopping_failure(run) == IMPORT_ERROR


def test_anything_less_is_feedback_per_question() -> None:
    assert stopping_failure(run_of(("1.1a", False, IMPORT_ERROR), ("1.1b", True, ""))) is None  # one passed
    assert stopping_failure(run_of(("1.1a", False, "f(): x"), ("1.1b", False, "g(): y"))) is None  # two failures
    assert stopping_failure(run_of(("1.1b", False, "x"), ("1.1b", False, "x"))) is None  # one question
    assert stopping_failure(run_of(("1.1a", False, ""), ("1.1b", False, ""))) is None  # nothing to say
    assert stopping_failure(run_of()) is None
