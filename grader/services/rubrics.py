"""An assignment's rubric, read from the rubrics folder: the files on disk are what grades."""

from __future__ import annotations

from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import Assignment, Device
from grader.rubric_spec import Rubric, load_rubric


def load_assignment_rubric(rubric_id: str) -> Rubric:
    """The rubric `rubric_id` in the configured rubrics folder (RubricError if it is unusable)."""
    return load_rubric(get_settings().rubrics_dir / rubric_id)


def adopt_rubric(assignment: Assignment, rubric: Rubric) -> None:
    """Make `rubric` the assignment's current one: its hash and device."""
    assignment.rubric_hash = rubric.content_hash
    assignment.device = Device(rubric.device)


def sync_rubric(db: Session, assignment: Assignment) -> Rubric:
    """Make the rubric on disk the assignment's current one (its hash and device); not committed."""
    rubric = load_assignment_rubric(assignment.rubric_id)
    adopt_rubric(assignment, rubric)
    db.flush()
    return rubric
