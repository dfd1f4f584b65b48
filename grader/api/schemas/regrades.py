"""Regrades: grading submissions again with the assignment's published rubric."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from grader.api.schemas.common import ReadModel, UtcDatetime
from grader.services.regrades import MAX_LISTED
from grader.web.deps import Id, Text


class RegradeIn(BaseModel):
    """Leave both filters out to regrade the whole assignment."""

    reason: Text = Field("", max_length=1_000)
    submission_ids: list[Id] | None = Field(None, max_length=MAX_LISTED, description="only these submissions")
    since: UtcDatetime | None = Field(None, description="only submissions made at or after this time")


class RegradeBatchPublic(ReadModel):
    """202: queued; poll GET /api/regrades/{id} for progress, then GET /api/regrades/{id}/diff."""

    id: int
    assignment_id: int
    reason: str
    rubric_hash: str
    created_at: datetime
