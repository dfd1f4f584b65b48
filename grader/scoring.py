"""Turn per-test outcomes into per-question scores (trusted: nothing here sees student objects)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from grader.rubric_spec import Question, Rubric


@dataclass(frozen=True)
class TestOutcome:
    """One collected test case (a parametrized case counts alone)."""

    name: str
    question: str
    passed: bool
    message: str = ""
    weight: float = 1.0  # its share of the question's points, relative to the question's other cases


@dataclass(frozen=True)
class QuestionResult:
    id: str
    title: str
    grading: str
    visibility: str
    max_score: float
    score: float
    passed_tests: int
    total_tests: int
    output: str
    printed: str = ""  # what the student's code printed during this question's calls
    total_weight: float = 0.0  # of all the question's test cases

    def share(self, test: TestOutcome) -> float:
        """What `test` is worth: the question's points times its weight over all its cases' weights."""
        return self.max_score * test.weight / self.total_weight if self.total_weight else 0.0

    @property
    def status(self) -> str:
        if self.grading == "manual":
            return "manual"
        return "passed" if self.passed_tests == self.total_tests else "failed"


@dataclass
class GradeReport:
    """The result of grading one submission against one rubric version."""

    assignment: str
    rubric_hash: str
    device: str
    questions: list[QuestionResult]
    tests: list[TestOutcome]
    execution_time: float
    output: str = ""
    student_output: str = ""  # printed outside every question's calls (while being imported)
    warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions if q.grading == "auto"), 4)

    def question(self, question_id: str) -> QuestionResult:
        return next(q for q in self.questions if q.id == question_id)

    @property
    def all_printed(self) -> str:
        """Everything the code printed, import first, then by question (for instructors and tools)."""
        return self.student_output + "".join(q.printed for q in self.questions)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions if q.grading == "auto"), 4)

    def to_gradescope(self) -> dict[str, Any]:
        """The Gradescope results.json document: one test entry per auto-graded question."""
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": with_printed(self.output, self.student_output),
            "tests": [
                {
                    "name": q.title,
                    "number": q.id,
                    "score": q.score,
                    "max_score": q.max_score,
                    "status": q.status,
                    "output": with_printed(q.output, q.printed),
                    "visibility": q.visibility,
                }
                for q in self.questions
                if q.grading == "auto"
            ],
        }


def with_printed(text: str, printed: str) -> str:
    """Feedback followed by what the code printed, so each is shown with what it belongs to."""
    if not printed:
        return text
    return f"{text}\n\nWhat your code printed:\n{printed}".lstrip("\n")


MAX_FEEDBACK_LINES = 8


def _feedback(question: Question, outcomes: list[TestOutcome]) -> str:
    failed = [o for o in outcomes if not o.passed]
    if not outcomes:
        return "No test ran for this question."
    if not failed:
        return f"All {len(outcomes)} checks passed."
    lines = [f"{len(outcomes) - len(failed)} of {len(outcomes)} checks passed."]
    seen: set[str] = set()
    for outcome in failed:
        if outcome.message in seen:
            continue
        seen.add(outcome.message)
        if len(seen) > MAX_FEEDBACK_LINES:
            lines.append(f"... and {len(failed) - MAX_FEEDBACK_LINES} more failures")
            break
        lines.append(f"- {outcome.name}: {outcome.message}")
    return "\n".join(lines)


def score_question(question: Question, outcomes: list[TestOutcome]) -> QuestionResult:
    """A question's points are split over its tests by weight (evenly by default), so partial
    work earns partial credit."""
    passed = sum(o.passed for o in outcomes)
    result = QuestionResult(
        id=question.id,
        title=question.title,
        grading=question.grading,
        visibility=question.visibility,
        max_score=question.points,
        score=0.0,
        passed_tests=passed,
        total_tests=len(outcomes),
        output=_feedback(question, outcomes) if question.auto else "Graded by hand.",
        total_weight=sum(o.weight for o in outcomes),
    )
    return replace(result, score=round(sum(result.share(o) for o in outcomes if o.passed), 4))


def build_report(
    rubric: Rubric, outcomes: list[TestOutcome], device: str, execution_time: float,
    printed: dict[str, str] | None = None, output: str = "", student_output: str = "",
    warnings: list[str] | None = None,
) -> GradeReport:
    """`printed`: what the code printed during each question's calls, by question id."""
    by_question: dict[str, list[TestOutcome]] = {q.id: [] for q in rubric.questions}
    for outcome in outcomes:
        by_question[outcome.question].append(outcome)
    printed = printed or {}
    questions = [replace(score_question(q, by_question[q.id]), printed=printed.get(q.id, ""))
                 for q in rubric.questions]
    return GradeReport(
        assignment=rubric.assignment,
        rubric_hash=rubric.content_hash,
        device=device,
        questions=questions,
        tests=outcomes,
        execution_time=execution_time,
        output=output,
        student_output=student_output,
        warnings=[] if warnings is None else warnings,
    )
