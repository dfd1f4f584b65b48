"""Instructors' scores for the questions graded by hand."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from grader.api.docs import errors
from grader.api.schemas.submissions import ManualGradeIn, ManualGradePublic
from grader.db.models import ManualGrade
from grader.services import manual_grades, submissions
from grader.web.deps import CurrentUser, Id, SessionDep, Text

router = APIRouter(tags=["manual grades"])


@router.put(
    "/submissions/{submission_id}/manual-grades/{question_id}",
    response_model=ManualGradePublic,
    responses=errors(400, 401, 403, 404, 409, 422,
                     meaning={422: "no such question, a score outside its points, or a bad body",
                              409: "the published rubric version cannot be read"}),
)
def set_manual_grade(
    submission_id: Id, question_id: Text, body: ManualGradeIn, db: SessionDep, user: CurrentUser
) -> ManualGrade:
    """Create or replace the grade of one question (it overrides an auto score)."""
    submission = submissions.get_submission(db, user, submission_id)
    return manual_grades.set_manual_grade(db, user, submission, question_id, body.score, body.comment)


@router.delete(
    "/submissions/{submission_id}/manual-grades/{question_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 401, 403, 404, meaning={404: "no such submission, or no manual grade for the question"}),
)
def remove_manual_grade(submission_id: Id, question_id: Text, db: SessionDep, user: CurrentUser) -> Response:
    """Remove a grade given by mistake: the tests' score counts again (or the question waits for a grade)."""
    submission = submissions.get_submission(db, user, submission_id)
    manual_grades.remove_manual_grade(db, user, submission, question_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
