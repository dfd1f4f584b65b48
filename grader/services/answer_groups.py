"""Wrong-answer groups: students who gave the same wrong answer in the same test case, and the
staff's feedback for each group (seen by instructors and TAs; written by whoever may grade).

A group is (question, case, function, signature) over the counted run (grader.services.scores) of
each student's submission that counts (by the assignment's rule, grader.services.standings), so
the staff group the answers they grade. It is computed when asked, so grading and regrading move
students between groups with nothing to keep in step. Feedback is keyed by the answer, not by
submissions: it reaches every submission whose counted run gives that answer, including those
graded later.
Students see only the feedback's text, under a question they may already see (the caller,
grader.services.submissions, filters the questions first), never the group or who is in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, delete, exists, select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import AnswerSignature, Assignment, GradingRun, GroupFeedback, Submission, User
from grader.services.courses import students_of
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_grade, require_view_all
from grader.services.scores import effective_runs
from grader.services.standings import standings

MAX_FEEDBACK_CHARS = 10_000


@dataclass(frozen=True, order=True)
class GroupKey:
    """What makes two wrong answers the same: one function's answer, rounded, in one test case."""

    question_id: str
    case_name: str
    function: str
    signature: str


@dataclass(frozen=True)
class GroupMember:
    student: User
    submission_id: int  # the student's submission that counts, whose counted run gave the answer


@dataclass
class AnswerGroup:
    key: GroupKey
    misconception: str | None  # the rubric's known mistake the answer matches; None: unnamed
    members: list[GroupMember] = field(default_factory=list)
    feedback: GroupFeedback | None = None

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def example_submission_id(self) -> int:
        return min(member.submission_id for member in self.members)


def _is_key(model: type[AnswerSignature] | type[GroupFeedback], key: GroupKey) -> list[ColumnElement[bool]]:
    """SQL conditions: a row of `model` about this group."""
    return [model.question_id == key.question_id, model.case_name == key.case_name,
            model.function == key.function, model.signature == key.signature]


def _key_of(row: GroupFeedback) -> GroupKey:
    return GroupKey(row.question_id, row.case_name, row.function, row.signature)


def wrong_answer_groups(db: Session, viewer: User, assignment: Assignment) -> list[AnswerGroup]:
    """Every group among the submissions that count, largest first, with its feedback."""
    require_view_all(db, viewer, assignment.course)
    students = {student.id: student for student in students_of(db, assignment.course)}
    table = standings(db, assignment, list(students.values()), with_scores=False)
    counted = [st.counted.submission for st in table.values() if st.counted is not None]
    runs = effective_runs(db, [s.id for s in counted], assignment.rubric_hash)
    submission_of_run = {run.id: submission_id for submission_id, run in runs.items()}
    owner = {s.id: s.user_id for s in counted}
    rows = db.execute(
        select(AnswerSignature.run_id, AnswerSignature.question_id, AnswerSignature.case_name,
               AnswerSignature.function, AnswerSignature.signature, AnswerSignature.misconception)
        .where(AnswerSignature.run_id.in_(submission_of_run))
        .order_by(AnswerSignature.id)
    )
    members: dict[GroupKey, list[GroupMember]] = {}
    mistakes: dict[GroupKey, Counter[str]] = {}
    for run_id, question_id, case_name, function, signature, misconception in rows:
        key = GroupKey(question_id, case_name, function, signature)
        submission_id = submission_of_run[run_id]
        members.setdefault(key, []).append(GroupMember(students[owner[submission_id]], submission_id))
        if misconception is not None:  # equal answers match the same mistakes, unless graded on other rubrics
            mistakes.setdefault(key, Counter())[misconception] += 1
    feedback = {
        _key_of(f): f for f in db.scalars(select(GroupFeedback).where(GroupFeedback.assignment_id == assignment.id))
    }
    groups = [
        AnswerGroup(key, mistakes[key].most_common(1)[0][0] if key in mistakes else None,
                    sorted(people, key=lambda m: (m.student.name, m.student.email)), feedback.get(key))
        for key, people in members.items()
    ]
    return sorted(groups, key=lambda g: (-g.size, g.key))


def set_group_feedback(db: Session, viewer: User, assignment: Assignment, key: GroupKey, text: str) -> GroupFeedback:
    """Write (or replace) the feedback of a group some submission of the assignment has given.
    Feedback grades the group's answer, so whoever may grade (TAs too) may write it."""
    require_grade(db, viewer, assignment.course)
    text = text.strip()
    if not text:
        raise Rejected(422, "the feedback is empty: write something, or remove the group's feedback")
    if len(text) > MAX_FEEDBACK_CHARS:
        raise Rejected(422, f"the feedback is {len(text):,} characters; at most {MAX_FEEDBACK_CHARS:,}")
    given = exists().where(
        *_is_key(AnswerSignature, key), AnswerSignature.run_id == GradingRun.id,
        GradingRun.submission_id == Submission.id, Submission.assignment_id == assignment.id,
    )
    if not db.scalar(select(given)):
        raise NotFound(f"no submission to {assignment.slug} gave this wrong answer ({key.function}() in "
                       f"{key.case_name} of question {key.question_id}, signature {key.signature})")
    note = _feedback_row(db, assignment, key)
    now = utcnow()
    if note is None:
        note = GroupFeedback(assignment_id=assignment.id, question_id=key.question_id, case_name=key.case_name,
                             function=key.function, signature=key.signature, created_at=now)
        db.add(note)
    note.text, note.author_id, note.updated_at = text, viewer.id, now
    db.flush()  # the caller answers with its id and times
    return note


def clear_group_feedback(db: Session, viewer: User, assignment: Assignment, key: GroupKey) -> None:
    """Remove a group's feedback: its students no longer see it."""
    require_grade(db, viewer, assignment.course)
    note = _feedback_row(db, assignment, key)
    if note is None:
        raise NotFound(f"the group of {key.function}() in {key.case_name} (signature {key.signature}) has no feedback")
    db.execute(delete(GroupFeedback).where(GroupFeedback.id == note.id))


def _feedback_row(db: Session, assignment: Assignment, key: GroupKey) -> GroupFeedback | None:
    return db.scalar(select(GroupFeedback).where(GroupFeedback.assignment_id == assignment.id,
                                                 *_is_key(GroupFeedback, key)))


def feedback_for_run(db: Session, assignment_id: int, run_id: int) -> dict[str, tuple[str, ...]]:
    """question id -> the texts of the feedback of every group the run's wrong answers are in.

    No permission check and no filter: the caller has checked that the viewer may see the
    submission, and shows the texts only under the questions the viewer may see."""
    rows = db.execute(
        select(GroupFeedback.question_id, GroupFeedback.text)
        .join(AnswerSignature, and_(AnswerSignature.question_id == GroupFeedback.question_id,
                                    AnswerSignature.case_name == GroupFeedback.case_name,
                                    AnswerSignature.function == GroupFeedback.function,
                                    AnswerSignature.signature == GroupFeedback.signature))
        .where(AnswerSignature.run_id == run_id, GroupFeedback.assignment_id == assignment_id)
        .order_by(GroupFeedback.id)
    )
    texts: dict[str, list[str]] = {}
    for question_id, text in rows:
        if text not in texts.setdefault(question_id, []):  # two functions in one case may share a group's words
            texts[question_id].append(text)
    return {question_id: tuple(found) for question_id, found in texts.items()}
