"""Assignments: their settings, what a student may still upload, and per-student extensions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from grader.api.schemas.accounts import UserPublic
from grader.api.schemas.common import ReadModel, UtcDatetime
from grader.services.late_rules import after_of
from grader.web.deps import Text


class AssignmentSettingsIn(BaseModel):
    """An assignment's settings; in a PATCH only those sent change (null clears an optional one)."""

    title: Text = Field("", max_length=200, description="on creation, blank: the rubric's title")
    due_at: UtcDatetime | None = None
    max_submissions: int | None = Field(None, ge=1, description="per student; null: unlimited")
    cooldown_s: int | None = Field(None, ge=0, description="seconds between two uploads of one student")
    release_at: UtcDatetime | None = Field(
        None, description="when after_due_date questions' details are shown; null: at the due date"
    )
    late_credit: Text = Field("", max_length=200, description="late credit windows such as 2d=80,7d=50 (up to 2 "
                                                             "days late 80 %, up to 7 days 50 %; units d, h, m); '' "
                                                             "for none")
    late_after: Literal["full", "zero", "reject"] | None = Field(
        None, description="after the last window (the due date without windows): full credit (only without windows), "
                          "zero, or reject (uploads refused); null: zero after windows, full credit without"
    )
    counts: Literal["last", "best", "chosen"] = Field("last", description="which submission counts: the last, the "
                                                                          "best credited one, or the one the student "
                                                                          "chooses")


class AssignmentIn(AssignmentSettingsIn):
    slug: Text = Field(max_length=100, description="unique in the course, e.g. hw2")
    rubric_id: Text = Field(max_length=100, description="a folder of the rubrics folder, e.g. hw2")


class AssignmentPublic(ReadModel):
    id: int
    course_id: int
    course_code: str
    slug: str
    title: str
    rubric_id: str
    rubric_hash: str
    due_at: datetime | None
    max_submissions: int | None
    cooldown_s: int | None
    release_at: datetime | None
    late_policy: str = Field(description="reject: uploads after the last late window are refused")
    late_credit: str | None = Field(description="credit windows, e.g. 2d=80,7d=50; null: late work is not penalised")
    counts: str = Field(description="which submission counts: last, best or chosen (by the student)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def late_after(self) -> str:
        """After the last window (the due date without windows): full credit, zero, or reject."""
        return after_of(self.late_policy, self.late_credit)


class AssignmentProgressPublic(ReadModel):
    assignment: AssignmentPublic
    students: int = Field(description="students who submitted at least once")
    submissions: int
    graded: int
    failed: int
    queued: int = Field(description="waiting for a worker or being graded")


class AllowancePublic(ReadModel):
    """What the caller may still upload to the assignment now."""

    used: int
    limit: int | None
    left: int | None = Field(description="never negative; null: unlimited")
    limit_reached: bool
    cooldown_s: int | None
    wait_s: int = Field(description="seconds until the next upload is taken; 0: now")
    next_at: datetime | None
    due_at: datetime | None
    closes_at: datetime | None = Field(description="the last time to upload (the due date or the caller's "
                                                   "extension, the late windows, the grace days left); null: late "
                                                   "uploads are taken")
    closed: bool = Field(description="past closes_at")


class ExtensionIn(BaseModel):
    due_at: UtcDatetime = Field(description="the student's own due date, after the assignment's")
    reason: Text = Field("", max_length=1_000)


class ExtensionPublic(ReadModel):
    assignment_id: int
    student: UserPublic = Field(validation_alias="user")
    due_at: datetime
    reason: str
    granted_by_id: int | None
    granted_at: datetime
