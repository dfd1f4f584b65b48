"""What `grader rubric check` proves about a rubric's misconceptions.py, by running the rubric in
this process with the reference as the submission:

- on every case a misconception is used for, its answer differs from the reference's beyond the
  question's tolerance, so the reference never matches one; a case where they agree cannot tell
  the mistake from the right answer (a degenerate case, such as attention scores so small that
  the softmax's derivative vanishes), and its inputs must change;
- each misconception, put in the reference's place, is recognised on every case it fails that it
  is used for, and named in every question where it fails, so a student with exactly that mistake
  is told. (It may pass a case that checks only part of an answer, such as its shape.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from grader.rubric.diagnosis import Call, RecordingStudent, matches
from grader.rubric.misconceptions import Misconception, load_misconceptions
from grader.rubric.runner import load_reference, run_rubric
from grader.rubric_spec import Question, Rubric
from grader.scoring import TestOutcome, build_report


@dataclass
class Audit:
    misconceptions: int = 0
    cases: int = 0  # (misconception, test case) pairs where it is used, each proven
    problems: list[str] = field(default_factory=list)


class _Replaced:
    """The reference with some of its functions replaced."""

    def __init__(self, reference: ModuleType, replaced: dict[str, Callable[..., Any]]) -> None:
        self._reference, self._replaced = reference, replaced

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._replaced.get(name) or getattr(self._reference, name)


def _run(rubric: Rubric, replaced: dict[str, Callable[..., Any]]) -> list[tuple[TestOutcome, list[Call]]]:
    """Every test case's outcome with the calls it made (tests run in the order they report)."""
    tests: list[list[Call]] = []
    submission = RecordingStudent(_Replaced(load_reference(rubric), replaced), lambda: tests[-1])
    outcomes = run_rubric(rubric, lambda: submission, on_test=lambda question: tests.append([]))
    return list(zip(outcomes, tests, strict=True))


def _used(mistake: Misconception, calls: list[Call]) -> bool:
    return any(call.function == mistake.function and mistake.applies(call.args, call.kwargs) for call in calls)


def _as_submission(rubric: Rubric, mistake: Misconception, audit: Audit) -> None:
    """Run the rubric with `mistake` in place of its function and record what it did not prove."""
    label = f"misconception {mistake.mistake.id!r} of {mistake.function}()"
    run = _run(rubric, {mistake.function: mistake.compute})
    used = [(outcome, calls) for outcome, calls in run if _used(mistake, calls)]
    if not used:
        audit.problems.append(f"{label}: no test case calls {mistake.function}() where it is used")
    for outcome, _ in used:
        audit.cases += 1
        if not outcome.passed and not any(mistake.mistake in answer.matches for answer in outcome.answers):
            audit.problems.append(f"{outcome.name}: {label} fails this case but is not recognised: {outcome.message}")
    report = build_report(rubric, [outcome for outcome, _ in run], "cpu", 0.0)
    for question in report.questions:
        failed = [o for o, calls in run if o.question == question.id and not o.passed
                  and any(call.function == mistake.function for call in calls)]
        if failed and mistake.mistake not in question.misconceptions:
            audit.problems.append(
                f"question {question.id}: {label} fails {', '.join(o.name for o in failed)} but is not named: "
                "it also fails cases it is not used for (widen its `when`)")


def audit_misconceptions(rubric: Rubric) -> Audit:
    """Prove what the module docstring says for every misconception of the rubric."""
    catalog = load_misconceptions(rubric)
    reference = load_reference(rubric)
    audit = Audit(misconceptions=sum(len(items) for items in catalog.values()))
    for function in catalog:
        if not callable(getattr(reference, function, None)):
            audit.problems.append(f"misconceptions of {function}(), which reference.py does not define")
    if audit.problems or not catalog:
        return audit
    questions: dict[str, Question] = {q.id: q for q in rubric.questions}
    for outcome, calls in _run(rubric, {}):
        tolerance = questions[outcome.question].tolerance
        for call in calls:
            for mistake in catalog.get(call.function, ()):
                if matches(mistake, call, tolerance):
                    audit.problems.append(
                        f"{outcome.name}: misconception {mistake.mistake.id!r} of {call.function}() gives the "
                        "reference's answer within the tolerance, so this case cannot tell them apart (a degenerate "
                        "case: give it inputs where the mistake shows, or narrow the misconception's `when`)")
    for mistakes in catalog.values():
        for mistake in mistakes:
            _as_submission(rubric, mistake, audit)
    return audit
