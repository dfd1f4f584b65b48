"""Where each student stands on an assignment: the submission that counts, how late it was, the
grace days it takes and the credit it earns.

Nothing here is stored: it is computed from the stored runs, due dates, extensions and rules at
each read, so a changed late policy, extension or grace budget shows at once and nothing is
graded again. The rules:

- A student's due date is the later of the assignment's and their extension's.
- The assignment's late rules turn lateness into a percentage of the raw score.
- Grace days (the course's budget, per student) are spent oldest assignment first (by due date,
  then id; an assignment without a due date takes none): each takes the fewest days that give the
  submission that counts the best credit the days left allow, and none when they cannot help.
- Which submission counts: `last` the newest; `chosen` the one the student marked, else the
  newest; `best` the highest credited score (on a tie the one taking fewer grace days, then the
  newest), else the newest when none is graded yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, ChosenSubmission, CountingRule, Course, Extension, Submission, User
from grader.services.late_credit import FULL, LateRules, grace_plan, late_by
from grader.services.late_rules import rules_of
from grader.services.rubrics import require_published
from grader.services.scores import SubmissionScore, score_submissions


@dataclass(frozen=True)
class Attempt:
    """One submission judged as if it counted: its lateness, grace days and credit."""

    submission: Submission
    score: SubmissionScore | None  # None where scores were not needed
    late_by: timedelta  # after the student's due date, before grace days
    grace_days: int
    percent: float

    @property
    def raw(self) -> float | None:
        """The score as graded: None until the submission has a run or a hand grade of its own (a
        grade carried from an earlier submission is shown beside one still queued, not a total)."""
        if self.score is None or (self.score.run is None
                                  and all(q.source != "manual" for q in self.score.questions)):
            return None
        return self.score.total

    @property
    def credited(self) -> float | None:
        return None if self.raw is None else credit(self.raw, self.percent)


@dataclass(frozen=True)
class Standing:
    student: User
    due_at: datetime | None  # the student's own
    extended: bool
    grace_left: int  # before this assignment
    attempts: list[Attempt]  # oldest first
    counted: Attempt | None


def credit(raw: float, percent: float) -> float:
    return round(raw * percent / FULL, 4)


def _due_at(assignment: Assignment, extension: datetime | None) -> datetime | None:
    if assignment.due_at is None or extension is None:
        return assignment.due_at
    return max(assignment.due_at, extension)


def _counted(rule: CountingRule, attempts: list[Attempt], chosen_id: int | None) -> Attempt | None:
    if not attempts:
        return None
    newest = attempts[-1]
    if rule == CountingRule.chosen:
        return next((a for a in attempts if a.submission.id == chosen_id), newest)
    if rule == CountingRule.best:
        graded = [a for a in attempts if a.credited is not None]
        return max(graded, key=lambda a: (a.credited, -a.grace_days, a.submission.id), default=newest)
    return newest


def _scores(db: Session, assignment: Assignment, submissions: list[Submission]) -> dict[int, SubmissionScore]:
    """Without feedback texts: standings only total and compare scores, and never show the texts."""
    return score_submissions(db, assignment, require_published(db, assignment), submissions, texts=False)


def standings_given(
    db: Session, assignment: Assignment, students: Sequence[User], grace_left: Mapping[int, int], with_scores: bool,
) -> dict[int, Standing]:
    """user id -> standing, with `grace_left` days per student. `with_scores` scores the submission
    that counts; `best` scores every one, since it compares them. The scores' feedback and printed
    output are left empty: a standing shows totals only."""
    ids = [s.id for s in students]
    submitted: dict[int, list[Submission]] = defaultdict(list)
    for submission in db.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                          Submission.user_id.in_(ids)).order_by(Submission.id)):
        submitted[submission.user_id].append(submission)
    compares = assignment.counts == CountingRule.best
    scores = _scores(db, assignment, [s for batch in submitted.values() for s in batch]) if compares else {}
    extensions = {user_id: due_at for user_id, due_at in db.execute(select(Extension.user_id, Extension.due_at).where(
        Extension.assignment_id == assignment.id, Extension.user_id.in_(ids)))}
    chosen = {user_id: submission_id for user_id, submission_id in db.execute(
        select(ChosenSubmission.user_id, ChosenSubmission.submission_id).where(
            ChosenSubmission.assignment_id == assignment.id, ChosenSubmission.user_id.in_(ids)))}
    rules = rules_of(assignment)
    table = {}
    for student in students:
        due_at = _due_at(assignment, extensions.get(student.id))
        left = grace_left.get(student.id, 0)
        attempts = [_attempt(rules, s, scores.get(s.id), due_at, left) for s in submitted[student.id]]
        table[student.id] = Standing(student, due_at, due_at != assignment.due_at, left, attempts,
                                     _counted(assignment.counts, attempts, chosen.get(student.id)))
    return _with_counted_scored(db, assignment, table) if with_scores and not compares else table


def _with_counted_scored(db: Session, assignment: Assignment, table: dict[int, Standing]) -> dict[int, Standing]:
    """The standings with the submission that counts scored: the only one whose score is shown."""
    scores = _scores(db, assignment, [st.counted.submission for st in table.values() if st.counted is not None])
    return {user_id: st if st.counted is None else replace(st, counted=replace(st.counted,
                                                                               score=scores[st.counted.submission.id]))
            for user_id, st in table.items()}


def _attempt(rules: LateRules, submission: Submission, score: SubmissionScore | None,
             due_at: datetime | None, days_left: int) -> Attempt:
    lateness = late_by(submission.created_at, due_at)
    days, percent = grace_plan(rules, lateness, days_left)
    return Attempt(submission, score, lateness, days, percent)


def dated_assignments(db: Session, course: Course) -> list[Assignment]:
    """The course's assignments in the order they spend grace days."""
    return list(db.scalars(select(Assignment).where(Assignment.course_id == course.id, Assignment.due_at.is_not(None))
                           .order_by(Assignment.due_at, Assignment.id)))


def spend(grace_left: dict[int, int], standings: Mapping[int, Standing]) -> None:
    for user_id, standing in standings.items():
        if standing.counted is not None:
            grace_left[user_id] -= standing.counted.grace_days


def spend_in_order(db: Session, course: Course, students: Sequence[User], grace_left: dict[int, int],
                   stop_before: Assignment | None = None) -> Iterator[tuple[Assignment, dict[int, Standing]]]:
    """(assignment, standings) for each dated assignment in the order grace days are spent, up to
    `stop_before` (None: all), each after its days are taken from `grace_left`: the one walk that
    both the days left before an assignment and the course's ledger of days spent depend on."""
    for assignment in dated_assignments(db, course):
        if stop_before is not None and assignment.id == stop_before.id:
            return
        table = standings_given(db, assignment, students, grace_left, with_scores=False)
        spend(grace_left, table)
        yield assignment, table


def grace_left_before(db: Session, assignment: Assignment, students: Sequence[User]) -> dict[int, int]:
    """user id -> grace days not spent by the assignments before this one."""
    budget = assignment.course.grace_days
    left = {s.id: budget for s in students}
    if budget > 0 and assignment.due_at is not None:
        for _ in spend_in_order(db, assignment.course, students, left, stop_before=assignment):
            pass
    return left


def standings(db: Session, assignment: Assignment, students: Sequence[User], with_scores: bool = True
              ) -> dict[int, Standing]:
    """user id -> where the student stands on the assignment (permissions are the caller's)."""
    return standings_given(db, assignment, students, grace_left_before(db, assignment, students), with_scores)


def own_due_at(db: Session, assignment: Assignment, student: User) -> datetime | None:
    """The student's own due date: the assignment's, or their extension's."""
    extension = db.scalar(select(Extension.due_at).where(Extension.assignment_id == assignment.id,
                                                         Extension.user_id == student.id))
    return _due_at(assignment, extension)


def uploads_close_at(db: Session, assignment: Assignment, student: User) -> datetime | None:
    """When this student's uploads stop being accepted (None: never): assignments that reject late
    work close after the last window past the student's own due date, plus the grace days left."""
    rules = rules_of(assignment)
    if rules.closes_at(assignment.due_at) is None:
        return None
    left = grace_left_before(db, assignment, [student])[student.id]
    return rules.closes_at(own_due_at(db, assignment, student), left)
