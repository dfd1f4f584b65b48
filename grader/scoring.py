"""Turn per-test outcomes into per-question scores (trusted: nothing here sees student objects)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from grader.rubric_spec import Question, Rubric


@dataclass(frozen=True)
class KnownMistake:
    """One of a rubric's misconceptions (its misconceptions.py) as a report carries it: words, no code."""

    function: str
    id: str
    title: str
    hint: str

    @property
    def sentence(self) -> str:
        """What the student reads; it names no test input, so hidden questions may show it too."""
        return f"{self.function}(): This matches a known mistake: {self.title}; {self.hint}"


@dataclass(frozen=True)
class Answer:
    """A wrong answer of one student function in a failed test case, as the diagnosis saw it."""

    function: str
    signature: str  # the answer rounded to the failing check's tolerance, hashed (16 hex digits)
    matches: tuple[KnownMistake, ...] = ()  # the misconceptions of `function` it equals in this case


@dataclass(frozen=True)
class TestOutcome:
    """One collected test case (a parametrized case counts alone)."""

    name: str
    question: str
    passed: bool
    message: str = ""
    weight: float = 1.0  # its share of the question's points, relative to the question's other cases
    fault: bool = False  # failed without an answer to check: the code raised, crashed or timed out
    answers: tuple[Answer, ...] = ()  # of a failed case: each wrong answer the failing check saw

    @property
    def extra_data(self) -> dict[str, Any]:
        """`{"signature": {function: hex digest}}` for a failed case with wrong answers, else empty."""
        if not self.answers:
            return {}
        return {"signature": {answer.function: answer.signature for answer in self.answers}}


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
    misconceptions: tuple[KnownMistake, ...] = ()  # named in the feedback: at most one per function

    def share(self, test: TestOutcome) -> float:
        """What `test` is worth: the question's points times its weight over all its cases' weights."""
        return self.max_score * test.weight / self.total_weight if self.total_weight else 0.0

    @property
    def status(self) -> str:
        """Gradescope's word for the question; one that no test checked has not passed."""
        if self.grading == "manual":
            return "manual"
        return "passed" if self.total_tests and self.passed_tests == self.total_tests else "failed"


@dataclass
class GradeReport:
    """The result of grading one submission against one rubric version.

    Diagnosis of wrong answers (it never changes a score): `tests[i].extra_data` is
    `{"signature": {function: digest}}` for a failed case, one 16-hex-digit digest per student
    function whose answer failed the case's check: the answer rounded to that check's tolerance
    and hashed, so equal wrong answers (one mistake made by many students) share a digest; crashed
    calls have none. `questions[i].misconceptions` are the known mistakes (the rubric's
    misconceptions.py) that the question's wrong answers all match, at most one per function;
    the feedback names them. `to_gradescope` carries both per question in `extra_data`:
    `misconception` (the first id), `misconceptions` (every id) and `signature` ({case: {function:
    digest}}), only when there are any.
    """

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
                    **({"extra_data": extra} if (extra := self._extra_data(q)) else {}),
                }
                for q in self.questions
                if q.grading == "auto"
            ],
        }

    def _extra_data(self, question: QuestionResult) -> dict[str, Any]:
        """The diagnosis of one question's wrong answers (see the class docstring); empty if none."""
        extra: dict[str, Any] = {}
        if question.misconceptions:
            extra["misconception"] = question.misconceptions[0].id
            extra["misconceptions"] = [mistake.id for mistake in question.misconceptions]
        signatures = {t.name: t.extra_data["signature"] for t in self.tests if t.question == question.id and t.answers}
        if signatures:
            extra["signature"] = signatures
        return extra


def with_printed(text: str, printed: str) -> str:
    """Feedback followed by what the code printed, so each is shown with what it belongs to."""
    if not printed:
        return text
    return f"{text}\n\nWhat your code printed:\n{printed}".lstrip("\n")


MAX_FEEDBACK_LINES = 8  # distinct failure messages shown per question


def named_mistakes(failed: list[TestOutcome]) -> tuple[KnownMistake, ...]:
    """Per function, the first misconception that every one of its wrong answers in `failed`
    matches (cases where it crashed gave no answer and don't count against it)."""
    by_function: dict[str, list[Answer]] = {}
    for outcome in failed:
        for answer in outcome.answers:
            by_function.setdefault(answer.function, []).append(answer)
    named = []
    for answers in by_function.values():
        common = [m for m in answers[0].matches if all(m in other.matches for other in answers[1:])]
        if common:
            named.append(common[0])
    return tuple(named)


def _shown(groups: list[list[TestOutcome]]) -> list[list[TestOutcome]]:
    """The message groups the feedback lists: the first MAX_FEEDBACK_LINES, but never only crashes
    or only wrong answers when a function has both, so neither hides the other."""
    if len(groups) <= MAX_FEEDBACK_LINES:
        return groups
    chosen = list(range(MAX_FEEDBACK_LINES))
    for fault in (True, False):
        first = next((i for i, g in enumerate(groups) if g[0].fault == fault), None)
        if first is not None and not any(groups[i][0].fault == fault for i in chosen):
            chosen[-1] = first
            chosen.sort()
    return [groups[i] for i in chosen]


def _feedback(outcomes: list[TestOutcome], named: tuple[KnownMistake, ...]) -> str:
    failed = [o for o in outcomes if not o.passed]
    if not outcomes:
        return "No test ran for this question."
    if not failed:
        return f"All {len(outcomes)} checks passed."
    lines = [f"{len(outcomes) - len(failed)} of {len(outcomes)} checks passed.", *(m.sentence for m in named)]
    groups: dict[str, list[TestOutcome]] = {}
    for outcome in failed:
        groups.setdefault(outcome.message, []).append(outcome)
    shown = _shown(list(groups.values()))
    for first, *same in shown:
        more = f" (and {len(same)} more with the same message)" if same else ""
        lines.append(f"- {first.name}: {first.message}{more}")
    left = len(failed) - sum(len(group) for group in shown)
    if left:
        lines.append(f"... and {left} more failures")
    return "\n".join(lines)


def score_question(question: Question, outcomes: list[TestOutcome]) -> QuestionResult:
    """A question's points are split over its tests by weight (evenly by default), so partial
    work earns partial credit; naming a known mistake costs nothing."""
    passed = sum(o.passed for o in outcomes)
    named = named_mistakes([o for o in outcomes if not o.passed]) if question.auto else ()
    result = QuestionResult(
        id=question.id,
        title=question.title,
        grading=question.grading,
        visibility=question.visibility,
        max_score=question.points,
        score=0.0,
        passed_tests=passed,
        total_tests=len(outcomes),
        output=_feedback(outcomes, named) if question.auto else "Graded by hand.",
        total_weight=sum(o.weight for o in outcomes),
        misconceptions=named,
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
