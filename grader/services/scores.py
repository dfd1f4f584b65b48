"""The score of a submission as staff see it: its effective grading run plus manual grades.

Policy: of a submission's completed runs, the latest on the assignment's current rubric hash
counts; until one exists (the rubric changed and no regrade has reached it), the latest
completed run on any hash counts and is marked stale. A manual grade for a question overrides
the run's score for it; the run's feedback stays beside it. A manual grade made on one of the
student's earlier submissions of the assignment is never dropped by a resubmission: where the new
submission has no score of its own for the question (a question graded by hand), it counts,
marked as carried from that submission until an instructor confirms or changes it; where it has
one (a new run's score), it is shown beside it. A manual grade counts at most the points its
question has now: above them (the points were lowered after it was given), it counts as them,
marked, until someone grades it again. Every score carries the rubric hash that produced it.
What students may see of a question (its visibility) is always the current rubric's, also beside
a stale run's score: hiding a question must not wait for a regrade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import literal, select
from sqlalchemy.orm import Session, defer

from grader.db.batches import batches
from grader.db.models import Assignment, GradingRun, ManualGrade, QuestionScore, RunStatus, Submission
from grader.rubric_spec import Question, Rubric


@dataclass(frozen=True)
class EarlierGrade:
    """A manual grade of the same question on one of the student's earlier submissions."""

    submission_id: int
    score: float
    comment: str
    rubric_hash: str
    graded_at: datetime


@dataclass(frozen=True)
class ScoredQuestion:
    question_id: str
    title: str
    grading: str  # auto or manual, as the current rubric says
    visibility: str  # as the current rubric says, whichever run the score comes from
    max_score: float
    score: float | None  # None: not graded yet
    source: str | None  # "auto" (a run), "manual" (an instructor), "carried" (`earlier` counts), None
    rubric_hash: str | None
    feedback: str  # the run's feedback, also under a manual grade that overrides its score
    comment: str
    printed: str = ""  # what the code printed during this question's calls
    auto_score: float | None = None  # the run's score, also under a manual grade that overrides it
    earlier: EarlierGrade | None = None  # the latest manual grade on an earlier submission, when this has none
    group_feedback: tuple[str, ...] = ()  # the staff's words on wrong answers of this run (answer_groups)
    capped_from: float | None = None  # a manual grade above the points the question has now: it counts as them

    @property
    def carried_from(self) -> int | None:
        """The earlier submission whose manual grade counts here, still to be confirmed."""
        return self.earlier.submission_id if self.source == "carried" and self.earlier else None


@dataclass(frozen=True)
class SubmissionScore:
    submission: Submission
    run: GradingRun | None
    stale: bool  # the run was made with an older rubric than the assignment's current one
    questions: list[ScoredQuestion]

    @property
    def total(self) -> float:
        return round(sum(q.score or 0.0 for q in self.questions), 4)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions), 4)


def effective_runs(db: Session, submission_ids: Sequence[int], current_hash: str) -> dict[int, GradingRun]:
    """submission id -> the completed run that counts (see the policy above). Chosen from the runs'
    ids and hashes first, so a submission regraded many times costs one run, not all of them."""
    best: dict[int, tuple[int, str]] = {}
    for some in batches(submission_ids):
        candidates = db.execute(
            select(GradingRun.id, GradingRun.submission_id, GradingRun.rubric_hash)
            .where(GradingRun.submission_id.in_(some), GradingRun.status == RunStatus.completed)
            .order_by(GradingRun.id)
        )
        # Ascending ids: a later run replaces an earlier one unless it is on an older rubric.
        for run_id, submission_id, rubric_hash in candidates:
            held = best.get(submission_id)
            if held is None or rubric_hash == current_hash or held[1] != current_hash:
                best[submission_id] = (run_id, rubric_hash)
    chosen = [run_id for run_id, _ in best.values()]
    return {run.submission_id: run for some in batches(chosen) for run in db.scalars(
        select(GradingRun).where(GradingRun.id.in_(some))
        .options(defer(GradingRun.output), defer(GradingRun.student_output))  # read only for one submission
    )}


class _Result(NamedTuple):
    score: float
    max_score: float
    feedback: str
    printed: str


def _results(db: Session, run_ids: Sequence[int], texts: bool) -> dict[int, dict[str, _Result]]:
    """run id -> question id -> its auto result, as plain rows: a class's gradebook reads thousands."""
    text_columns = (QuestionScore.feedback, QuestionScore.printed) if texts else (literal(""), literal(""))
    rows = db.execute(
        select(QuestionScore.run_id, QuestionScore.question_id, QuestionScore.score, QuestionScore.max_score,
               *text_columns)
        .where(QuestionScore.run_id.in_(run_ids))
    )
    results: dict[int, dict[str, _Result]] = defaultdict(dict)
    for run_id, question_id, score, max_score, feedback, printed in rows:
        results[run_id][question_id] = _Result(score, max_score, feedback, printed)
    return results


def _capped(score: float, question: Question) -> tuple[float, float | None]:
    """A manual grade counts at most the question's points, which may have been lowered since it
    was given (it was within them then); the grade as given, when above, is kept to be shown."""
    return (question.points, score) if score > question.points else (score, None)


def _scored(question: Question, run: GradingRun | None, result: _Result | None,
            manual: ManualGrade | None, earlier: EarlierGrade | None) -> ScoredQuestion:
    if manual is not None:
        score, capped_from = _capped(manual.score, question)
        return ScoredQuestion(question.id, question.title, question.grading, question.visibility, question.points,
                              score, "manual", manual.rubric_hash, result.feedback if result else "",
                              manual.comment, result.printed if result else "", result.score if result else None,
                              capped_from=capped_from)
    if run is not None and result is not None:
        return ScoredQuestion(question.id, question.title, question.grading, question.visibility, result.max_score,
                              result.score, "auto", run.rubric_hash, result.feedback, "", result.printed,
                              result.score, earlier)
    if earlier is not None:
        score, capped_from = _capped(earlier.score, question)
        return ScoredQuestion(question.id, question.title, question.grading, question.visibility, question.points,
                              score, "carried", earlier.rubric_hash, "", earlier.comment, earlier=earlier,
                              capped_from=capped_from)
    return ScoredQuestion(question.id, question.title, question.grading, question.visibility, question.points,
                          None, None, None, "", "")


def _earlier_grades(db: Session, submissions: Sequence[Submission]) -> dict[tuple[int, str], EarlierGrade]:
    """(submission id, question id) -> the manual grade of that question on the latest earlier
    submission of the same student and assignment that has one."""
    if not submissions:
        return {}
    rows = db.execute(
        select(ManualGrade, Submission.assignment_id, Submission.user_id)
        .join(Submission, Submission.id == ManualGrade.submission_id)
        .where(Submission.assignment_id.in_({s.assignment_id for s in submissions}),
               Submission.user_id.in_({s.user_id for s in submissions}))
        .order_by(ManualGrade.submission_id)
    ).all()
    history: dict[tuple[int, int], list[ManualGrade]] = {}  # (assignment, student) -> grades, oldest submission first
    for grade, assignment_id, user_id in rows:
        history.setdefault((assignment_id, user_id), []).append(grade)
    found: dict[tuple[int, str], EarlierGrade] = {}
    for submission in submissions:
        for grade in history.get((submission.assignment_id, submission.user_id), []):
            if grade.submission_id < submission.id:  # a later one replaces an earlier one
                found[(submission.id, grade.question_id)] = EarlierGrade(
                    grade.submission_id, grade.score, grade.comment, grade.rubric_hash, grade.graded_at)
    return found


def score_submissions(
    db: Session, assignment: Assignment, rubric: Rubric, submissions: Sequence[Submission], texts: bool = True
) -> dict[int, SubmissionScore]:
    """submission id -> its score, one entry per question of the current rubric. `texts=False`
    leaves feedback and printed output empty, for a table of scores only."""
    ids = [s.id for s in submissions]
    runs = effective_runs(db, ids, assignment.rubric_hash)
    results = _results(db, [run.id for run in runs.values()], texts)
    manual: dict[tuple[int, str], ManualGrade] = {
        (g.submission_id, g.question_id): g
        for g in db.scalars(select(ManualGrade).where(ManualGrade.submission_id.in_(ids)))
    }
    earlier = _earlier_grades(db, submissions)
    scores: dict[int, SubmissionScore] = {}
    for submission in submissions:
        run = runs.get(submission.id)
        found = results.get(run.id, {}) if run is not None else {}
        questions = [_scored(q, run, found.get(q.id), manual.get((submission.id, q.id)),
                             earlier.get((submission.id, q.id))) for q in rubric.questions]
        stale = run is not None and run.rubric_hash != assignment.rubric_hash
        scores[submission.id] = SubmissionScore(submission, run, stale, questions)
    return scores
