"""Wrong-answer groups of an assignment, for its instructors and TAs, and their feedback to the students."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from grader.api.docs import errors
from grader.api.schemas.analysis import (
    AnswerGroupPublic,
    GroupFeedbackIn,
    GroupFeedbackPublic,
    GroupKeyFields,
    GroupMemberPublic,
)
from grader.db.models import GroupFeedback
from grader.services import answer_groups, courses
from grader.services.answer_groups import AnswerGroup, GroupKey
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/assignments/{assignment_id}/groups", tags=["wrong-answer groups"],
                   responses=errors(401, 403, 404))

NO_GROUP = "no such assignment, or no submission of it gave this wrong answer"


def _public(group: AnswerGroup) -> AnswerGroupPublic:
    return AnswerGroupPublic(
        question_id=group.key.question_id, case_name=group.key.case_name, function=group.key.function,
        signature=group.key.signature, misconception=group.misconception, size=group.size,
        example_submission_id=group.example_submission_id,
        members=[GroupMemberPublic.model_validate(member) for member in group.members],
        feedback=GroupFeedbackPublic.model_validate(group.feedback) if group.feedback else None,
    )


def _key(fields: GroupKeyFields) -> GroupKey:
    return GroupKey(fields.question_id, fields.case_name, fields.function, fields.signature)


@router.get("", response_model=list[AnswerGroupPublic])
def list_groups(assignment_id: Id, db: SessionDep, user: CurrentUser) -> list[AnswerGroupPublic]:
    """Students whose submissions that count gave the same wrong answer in a test case, largest group first."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return [_public(group) for group in answer_groups.wrong_answer_groups(db, user, assignment)]


@router.put("/feedback", response_model=GroupFeedbackPublic,
            responses=errors(400, 422, meaning={404: NO_GROUP, 422: "a bad body, or blank text"}))
def set_feedback(assignment_id: Id, body: GroupFeedbackIn, db: SessionDep, user: CurrentUser) -> GroupFeedback:
    """Write or replace a group's feedback: every student in it sees it under the question, now and
    whenever a later submission gives the same answer (only where the question is shown to them)."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return answer_groups.set_group_feedback(db, user, assignment, _key(body), body.text)


@router.delete("/feedback", status_code=status.HTTP_204_NO_CONTENT,
               responses=errors(422, meaning={404: "no such assignment, or the group has no feedback"}))
def clear_feedback(
    assignment_id: Id, key: Annotated[GroupKeyFields, Query()], db: SessionDep, user: CurrentUser
) -> None:
    """Remove a group's feedback (the group is named by query parameters)."""
    assignment = courses.get_assignment(db, user, assignment_id)
    answer_groups.clear_group_feedback(db, user, assignment, _key(key))
