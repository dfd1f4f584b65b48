"""Publishing a rubric version: what the folder on disk would change, then making it the assignment's.

An edit on disk changes nothing until an instructor publishes it, after reading the diff of
questions and points (the rubric page, `grader rubric publish`, the API); regrading is offered
then, or asked for with the publish. Nothing here commits: the page, the command or the request does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, ManualGrade, RegradeBatch, Submission, User
from grader.rubric_diff import RubricDiff, diff_rubrics
from grader.rubric_spec import Rubric, RubricError
from grader.services import regrades, rubrics
from grader.services.errors import Rejected
from grader.services.permissions import require_change_settings, require_view_all


@dataclass(frozen=True)
class RubricStatus:
    """The published version next to the folder on disk, and what publishing the folder would change."""

    assignment: Assignment
    published_hash: str
    published: Rubric | None  # None: not stored, and the folder no longer holds it (`published_error`)
    published_error: str
    on_disk: Rubric | None  # None: the folder cannot be used (`disk_error`)
    disk_error: str
    diff: RubricDiff | None  # published -> disk, when both load and they differ
    orphaned_grades: int  # manual grades of questions the folder removes: kept, but no longer counted
    grades_over_new_max: int  # manual grades above their question's new points: they count as those points
    submissions: int  # what a regrade of the whole assignment would grade again

    @property
    def changed(self) -> bool:
        """The folder on disk is not the published version."""
        return self.on_disk is not None and self.on_disk.content_hash != self.published_hash


def _count_grades(db: Session, assignment: Assignment, *conditions: ColumnElement[bool]) -> int:
    """The assignment's manual grades that meet `conditions`."""
    return db.scalar(
        select(func.count()).select_from(ManualGrade).join(Submission, Submission.id == ManualGrade.submission_id)
        .where(Submission.assignment_id == assignment.id, *conditions)
    ) or 0


def _orphaned_grades(db: Session, assignment: Assignment, diff: RubricDiff) -> int:
    removed = [q.id for q in diff.removed]
    return _count_grades(db, assignment, ManualGrade.question_id.in_(removed)) if removed else 0


def _grades_over_new_max(db: Session, assignment: Assignment, diff: RubricDiff) -> int:
    """Also where the points rise: a grade given when they were higher (before an earlier lowering)
    may still be above them."""
    above = [and_(ManualGrade.question_id == p.question_id, ManualGrade.score > p.new) for p in diff.points]
    return _count_grades(db, assignment, or_(*above)) if above else 0


def rubric_status(db: Session, viewer: User, assignment: Assignment) -> RubricStatus:
    """What publishing would change (the course's staff see it)."""
    require_view_all(db, viewer, assignment.course)
    try:
        published, published_error = rubrics.published(db, assignment), ""
    except RubricError as exc:
        published, published_error = None, str(exc)
    disk = rubrics.disk_rubric(assignment.rubric_id)
    changed = disk.rubric is not None and disk.hash != assignment.rubric_hash
    diff = diff_rubrics(published, disk.rubric) if changed and published is not None and disk.rubric else None
    orphaned = _orphaned_grades(db, assignment, diff) if diff else 0
    over_max = _grades_over_new_max(db, assignment, diff) if diff else 0
    submissions = db.scalar(select(func.count()).select_from(Submission)
                            .where(Submission.assignment_id == assignment.id)) or 0
    return RubricStatus(assignment, assignment.rubric_hash, published, published_error, disk.rubric, disk.error,
                        diff, orphaned, over_max, submissions)


@dataclass(frozen=True)
class Published:
    before: RubricStatus  # as it was before publishing: what it changed (the diff)
    regrade: RegradeBatch | None  # asked for, and a new version with submissions to grade again


def publish(db: Session, viewer: User, assignment: Assignment, expected_hash: str | None = None,
            regrade: bool = False) -> Published:
    """Make the folder on disk the published version, and with `regrade`, regrade every submission
    with it when that changed the version and there are submissions.

    `expected_hash` is the version the instructor reviewed: if the folder has changed since, nothing
    is published (409). Publishing the version already published changes nothing (`changed` is false).
    Only the course's instructors publish: it changes what every later upload is graded with."""
    require_change_settings(db, viewer, assignment.course)
    # Before reading what it changes: an upload in flight commits first and is counted and
    # regraded, or waits and is graded with the new version.
    rubrics.lock_published_version(db, assignment, exclusive=True)
    status = rubric_status(db, viewer, assignment)
    if status.on_disk is None:
        raise Rejected(422, f"the rubric on disk cannot be used: {status.disk_error}")
    if expected_hash is not None and status.on_disk.content_hash != expected_hash:
        raise Rejected(409, f"the rubric on disk has changed since version {expected_hash} was shown "
                            f"(it is now {status.on_disk.content_hash}): review the changes again")
    try:
        rubric = rubrics.publish_from_disk(db, assignment)
    except RubricError as exc:
        raise Rejected(422, f"the rubric on disk cannot be used: {exc}") from exc
    if rubric.content_hash != status.on_disk.content_hash:
        raise Rejected(409, "the rubric on disk changed while it was being published: review the changes again")
    if not (regrade and status.changed and status.submissions):
        return Published(status, None)
    return Published(status, regrades.start_regrade(db, viewer, assignment, f"rubric {rubric.content_hash} published"))
