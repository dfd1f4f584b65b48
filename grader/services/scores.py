"""The score of a submission as staff see it: its effective grading run plus manual grades.

Policy: of a submission's completed runs, the latest on the assignment's current rubric hash
counts; until one exists (the rubric changed and no regrade has reached it), the latest
completed run on any hash counts and is marked stale. A manual grade for a question overrides
the run's score for it. Every score carries the rubric hash that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.db.models import Assignment, GradingRun, ManualGrade, RunStatus, Submission
from grader.rubric_spec import Rubric


@dataclass(frozen=True)
class ScoredQuestion:
    question_id: str
    title: str
    grading: str  # auto or manual, as the current rubric says
    visibility: str
    max_score: float
    score: float | None  # None: not graded yet
    source: str | None  # "auto" (a run), "manual" (an instructor), None
    rubric_hash: str | None
    feedback: str
    comment: str
    printed: str = ""  # what the code printed during this question's calls
    group_feedback: tuple[str, ...] = ()  # the staff's words on wrong answers of this run (answer_groups)


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


def _scored(question_id: str, title: str, grading: str, visibility: str, points: float,
            run: GradingRun | None, manual: ManualGrade | None) -> ScoredQuestion:
    if manual is not None:
        return ScoredQuestion(question_id, title, grading, visibility, points, manual.score, "manual",
                              manual.rubric_hash, "", manual.comment)
    if run is not None:
        for result in run.questions:
            if result.question_id == question_id:
                return ScoredQuestion(question_id, title, grading, result.visibility, result.max_score,
                                      result.score, "auto", run.rubric_hash, result.feedback, "", result.printed)
    return ScoredQuestion(question_id, title, grading, visibility, points, None, None, None, "", "")


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
    scores: dict[int, SubmissionScore] = {}
    for submission in submissions:
        run = runs.get(submission.id)
        questions = [
            _scored(q.id, q.title, q.grading, q.visibility, q.points, run, manual.get((submission.id, q.id)))
            for q in rubric.questions
        ]
        stale = run is not None and run.rubric_hash != assignment.rubric_hash
        scores[submission.id] = SubmissionScore(submission, run, stale, questions)
    return scores
