"""Looking across submissions: similar code, and students who gave the same wrong answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict

from grader.api.schemas.accounts import UserPublic
from grader.api.schemas.common import ReadModel
from grader.web.deps import Text


class SimilarityIn(BaseModel):
    threshold: Annotated[float, Strict()] = Field(  # a number: not true, not "0.6"
        0.6, allow_inf_nan=False,
        description="list the pairs in which either side shares at least this share of its code (above 0, at most 1)",
    )


class PairSidePublic(BaseModel):
    submission_id: int
    student: str = Field(description="the student's email")
    filename: str
    similarity: float = Field(description="the share of this side's code that the other side has too")
    source: str = Field(description="the code compared (a notebook's code cells)")
    spans: list[tuple[int, int]] = Field(description="[start, end) character offsets of the shared fragments")


class SimilarityPairPublic(BaseModel):
    id: int
    run_id: int
    score: float = Field(description="the larger of the two sides' similarity")
    a: PairSidePublic
    b: PairSidePublic


class GroupKeyFields(BaseModel):
    """Which wrong answer: one student function's answer, rounded, in one test case."""

    question_id: Text = Field(max_length=50)
    case_name: Text = Field(max_length=300, description="the test case, e.g. test_conv_output_size[L9-K3-S2-P1-D1]")
    function: Text = Field(max_length=100, description="the student function that gave the answer")
    signature: str = Field(pattern=r"^[0-9a-f]{16}$", description="the answer rounded to the check's tolerance, hashed")


class GroupFeedbackIn(GroupKeyFields):
    text: Text = Field(min_length=1, max_length=10_000, description="shown to every student in the group")


class GroupFeedbackPublic(ReadModel):
    question_id: str
    case_name: str
    function: str
    signature: str
    text: str
    author_id: int | None
    created_at: datetime
    updated_at: datetime


class GroupMemberPublic(ReadModel):
    student: UserPublic
    submission_id: int = Field(description="the student's submission that counts (by the assignment's rule)")


class AnswerGroupPublic(ReadModel):
    """Students whose submissions that count gave the same wrong answer in one test case."""

    question_id: str
    case_name: str
    function: str
    signature: str
    misconception: str | None = Field(description="the rubric's known mistake it matches; null if unnamed")
    size: int
    example_submission_id: int
    members: list[GroupMemberPublic]
    feedback: GroupFeedbackPublic | None
