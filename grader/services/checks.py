"""What a grading run's checks say, read from its stored test cases: per question, the failures
grouped by message with how many share each one, and the one failure that stopped every check.

Read from the rows, not from the feedback text the engine wrote, so a page can say how many
checks share a message and say a failure of the whole submission (an import error) once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grader.db.models import GradingRun, TestResult

MAX_GROUPS = 8  # distinct messages shown per question; the rest are counted
COULD_NOT_RUN = "Could not run: see the error at the top."


@dataclass(frozen=True)
class FailureGroup:
    message: str
    tests: list[str]  # the failed checks with this message, in the order they ran

    @property
    def more(self) -> int:
        """How many other checks failed with the same message as the first one named."""
        return len(self.tests) - 1


@dataclass(frozen=True)
class QuestionChecks:
    passed: int
    total: int
    groups: list[FailureGroup]  # at most MAX_GROUPS, by first failure
    unlisted: int  # failed checks whose message is not among the groups shown


def _group(failed: Iterable[TestResult]) -> list[FailureGroup]:
    by_message: dict[str, list[str]] = {}
    for test in failed:
        by_message.setdefault(test.feedback, []).append(test.name)
    return [FailureGroup(message, names) for message, names in by_message.items()]


def question_checks(run: GradingRun) -> dict[str, QuestionChecks]:
    """question id -> its checks in this run (questions without stored checks are left out)."""
    by_question: dict[str, list[TestResult]] = {}
    for test in run.tests:
        by_question.setdefault(test.question_id, []).append(test)
    checks = {}
    for question_id, tests in by_question.items():
        groups = _group(t for t in tests if t.status != "passed")
        unlisted = sum(len(g.tests) for g in groups[MAX_GROUPS:])
        checks[question_id] = QuestionChecks(sum(t.status == "passed" for t in tests), len(tests),
                                             groups[:MAX_GROUPS], unlisted)
    return checks


def stopping_failure(run: GradingRun) -> str | None:
    """The message every check failed with, when all the checks of more than one question failed
    with one message: the submission failed as a whole (it did not import, say), not per question."""
    tests = run.tests
    messages = {t.feedback for t in tests}
    if any(t.status == "passed" for t in tests) or len(messages) != 1 or len({t.question_id for t in tests}) < 2:
        return None
    return messages.pop() or None
