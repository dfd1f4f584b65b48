"""The score of a submission as staff see it: its effective grading run plus manual grades.

Policy: of a submission's completed runs, the latest on the assignment's current rubric hash
counts; until one exists (the rubric changed and no regrade has reached it), the latest
completed run on any hash counts and is marked stale. A manual grade for a question overrides
the run's score for it; the run's feedback stays beside it. A manual grade made on one of the
student's earlier submissions of the assignment is never dropped by a resubmission: where the new
submission has no score of its own for the question (a question graded by hand), it counts,
marked as carried from that submission until an instructor confirms or changes it; where it has
one (a new run's score), it is shown beside it. Every score carries the rubric hash that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.db.models import Assignment, GradingRun, ManualGrade, RunStatus, Submission
from grader.rubric_spec import Rubric


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
    visibility: str
    max_score: float
    score: float | None  # None: not graded yet
    source: str | None  # "auto" (a run), "manual" (an instructor), "carried" (`earlier` counts), None
    rubric_hash: str | None
    feedback: str  # the run's feedback, also under a manual grade that overrides its score
    comment: str
    printed: str = ""  # what the code printed during this question's calls
    auto_score: float | None = None  # the run's score, also under a manual grade that overrides it
    earlier: EarlierGrade | None = None  # the latest manual grade on an earlier submission, when this has none

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
    """submission id -> the completed run that counts (see the policy above), questions loaded."""
    runs = db.scalars(
        select(GradingRun)
        .where(GradingRun.submission_id.in_(submission_ids), GradingRun.status == RunStatus.completed)
        .options(selectinload(GradingRun.questions))
        .order_by(GradingRun.id)
    )
    best: dict[int, GradingRun] = {}
    for run in runs:  # ascending ids: a later run replaces an earlier one unless it is on an older rubric
        held = best.get(run.submission_id)
        if held is None or run.rubric_hash == current_hash or held.rubric_hash != current_hash:
            best[run.submission_id] = run
    return best


def _scored(question_id: str, title: str, grading: str, visibility: str, points: float, run: GradingRun | None,
            manual: ManualGrade | None, earlier: EarlierGrade | None) -> ScoredQuestion:
    result = next((r for r in run.questions if r.question_id == question_id), None) if run is not None else None
    if manual is not None:
        return ScoredQuestion(question_id, title, grading, visibility, points, manual.score, "manual",
                              manual.rubric_hash, result.feedback if result else "", manual.comment,
                              result.printed if result else "", result.score if result else None)
    if result is not None and run is not None:
        return ScoredQuestion(question_id, title, grading, result.visibility, result.max_score, result.score, "auto",
                              run.rubric_hash, result.feedback, "", result.printed, result.score, earlier)
    if earlier is not None:
        return ScoredQuestion(question_id, title, grading, visibility, points, earlier.score, "carried",
                              earlier.rubric_hash, "", earlier.comment, earlier=earlier)
    return ScoredQuestion(question_id, title, grading, visibility, points, None, None, None, "", "")


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
    db: Session, assignment: Assignment, rubric: Rubric, submissions: Sequence[Submission]
) -> dict[int, SubmissionScore]:
    """submission id -> its score, one entry per question of the current rubric."""
    ids = [s.id for s in submissions]
    runs = effective_runs(db, ids, assignment.rubric_hash)
    manual: dict[tuple[int, str], ManualGrade] = {
        (g.submission_id, g.question_id): g
        for g in db.scalars(select(ManualGrade).where(ManualGrade.submission_id.in_(ids)))
    }
    earlier = _earlier_grades(db, submissions)
    scores: dict[int, SubmissionScore] = {}
    for submission in submissions:
        run = runs.get(submission.id)
        questions = [
            _scored(q.id, q.title, q.grading, q.visibility, q.points, run, manual.get((submission.id, q.id)),
                    earlier.get((submission.id, q.id)))
            for q in rubric.questions
        ]
        stale = run is not None and run.rubric_hash != assignment.rubric_hash
        scores[submission.id] = SubmissionScore(submission, run, stale, questions)
    return scores
