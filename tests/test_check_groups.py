"""A run's stored checks, as the submission page reads them: failures grouped by message with the
count of checks sharing each, and a failure of every check across questions said once."""

from __future__ import annotations

from grader.db.models import GradingRun, TestResult
from grader.services.checks import MAX_GROUPS, question_checks, stopping_failure


def run_of(*tests: tuple[str, str, bool, str]) -> GradingRun:
    """A run with its test cases, (name, question, passed, message) each, as record_result stores them."""
    return GradingRun(tests=[TestResult(name=name, question_id=question, status="passed" if passed else "failed",
                                        feedback=message, score=0.0, max_score=1.0, visibility="visible")
                             for name, question, passed, message in tests])


def test_failures_sharing_a_message_are_one_group_that_counts_them() -> None:
    run = run_of(
        ("size[a]", "1.1b", True, ""), ("size[b]", "1.1b", True, ""), ("size[c]", "1.1b", True, ""),
        ("size[d]", "1.1b", True, ""),
        ("shape[a]", "1.1b", False, "wrong shape"), ("shape[b]", "1.1b", False, "raised ValueError (line 9)"),
        ("shape[c]", "1.1b", False, "wrong shape"), ("shape[d]", "1.1b", False, "off by one"),
    )
    checks = question_checks(run)["1.1b"]
    assert (checks.passed, checks.total, checks.unlisted) == (4, 8, 0)
    assert [(g.message, g.tests, g.more) for g in checks.groups] == [
        ("wrong shape", ["shape[a]", "shape[c]"], 1),
        ("raised ValueError (line 9)", ["shape[b]"], 0),
        ("off by one", ["shape[d]"], 0),
    ]
    assert sum(len(g.tests) for g in checks.groups) == checks.total - checks.passed  # every failure is counted


def test_past_the_shown_groups_the_other_failures_are_counted() -> None:
    run = run_of(*((f"case[{i}]", "1.1c.i", False, f"error {i % (MAX_GROUPS + 2)}") for i in range(20)))
    checks = question_checks(run)["1.1c.i"]
    assert len(checks.groups) == MAX_GROUPS
    assert sum(len(g.tests) for g in checks.groups) + checks.unlisted == 20 and checks.unlisted > 0


def test_one_message_failing_every_check_of_several_questions_stops_the_submission() -> None:
    import_error = "importing the submission failed: NameError: name 'torch' is not defined (line 3 of hw2.py)"
    assert stopping_failure(run_of(("a", "1.1a", False, import_error), ("b", "1.1b", False, import_error),
                                   ("c", "1.2.1b", False, import_error))) == import_error


def test_anything_less_is_feedback_per_question() -> None:
    assert stopping_failure(run_of(("a", "1.1a", False, "x"), ("b", "1.1b", True, ""))) is None  # one passed
    assert stopping_failure(run_of(("a", "1.1a", False, "x"), ("b", "1.1b", False, "y"))) is None  # two messages
    assert stopping_failure(run_of(("a", "1.1b", False, "x"), ("b", "1.1b", False, "x"))) is None  # one question
    assert stopping_failure(run_of()) is None
