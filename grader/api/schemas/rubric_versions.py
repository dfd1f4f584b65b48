"""An assignment's rubric versions: what publishing the folder on disk would change."""

from __future__ import annotations

from pydantic import BaseModel, Field

from grader.api.schemas.common import ReadModel
from grader.web.deps import Text


class QuestionRefPublic(ReadModel):
    id: str
    title: str
    points: float


class PointsChangePublic(ReadModel):
    question_id: str
    title: str
    old: float
    new: float


class RubricDiffPublic(ReadModel):
    """From the published version to the folder on disk: what publishing would change."""

    added: list[QuestionRefPublic]
    removed: list[QuestionRefPublic]
    points: list[PointsChangePublic]
    settings: list[str]
    files: list[str]
    old_total: float
    new_total: float


class RubricStatusPublic(BaseModel):
    published_hash: str
    on_disk_hash: str | None = Field(description="null: the folder on disk cannot be used (`disk_error` says why)")
    disk_error: str
    changed: bool = Field(description="the folder on disk is not the published version")
    diff: RubricDiffPublic | None
    orphaned_grades: int = Field(description="manual grades of questions publishing removes: kept, no longer counted")
    grades_over_new_max: int = Field(
        description="manual grades above their question's new points: they count as those points until graded again"
    )
    submissions: int = Field(description="what a regrade of the whole assignment would grade again")


class PublishIn(BaseModel):
    expected_hash: Text | None = Field(
        None, max_length=64, description="the on-disk version you reviewed: 409 if the folder has changed since"
    )
    regrade: bool = Field(False, description="then regrade every submission with the new version")


class PublishedPublic(BaseModel):
    """The status as it was before publishing (with the diff it applied), and the regrade if asked."""

    published_hash: str
    before: RubricStatusPublic
    regrade_batch_id: int | None
