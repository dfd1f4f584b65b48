"""Uploads (202, graded in the background) and what the caller may see of submissions."""

from __future__ import annotations

from fastapi import APIRouter, status

from grader.api.docs import errors
from grader.api.schemas.submissions import (
    ChoicePublic,
    SubmissionAccepted,
    SubmissionDetail,
    SubmissionFeedbackPublic,
    SubmissionPublic,
)
from grader.db.models import ChosenSubmission, Submission
from grader.services import choices, courses, submissions
from grader.web.deps import CurrentUser, Id, SessionDep, UploadDep

router = APIRouter(tags=["submissions"], responses=errors(401))

UPLOAD_ERRORS = errors(400, 403, 404, 409, 413, 415, 422, 429, meaning={
    403: "not enrolled in the assignment's course",
    409: "past the last time to upload (the due date or the student's extension, the late windows and the "
         "grace days left) of an assignment that refuses late work, or the course is archived",
    422: "no file, or a file that is empty, not UTF-8, or not a valid notebook",
    429: "no submissions left for this assignment, or the cooldown since your last upload lasts (Retry-After)",
})


@router.post(
    "/assignments/{assignment_id}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionAccepted,
    responses=UPLOAD_ERRORS,
)
def upload(assignment_id: Id, upload: UploadDep, db: SessionDep, user: CurrentUser) -> Submission:
    """Store the file (multipart field `file`) and queue it for grading."""
    assignment = courses.get_assignment(db, user, assignment_id)
    return submissions.submit(db, user, assignment, upload.filename, upload.data)


@router.get("/submissions", response_model=list[SubmissionPublic], responses=errors(403, 404, 422))
def list_submissions(db: SessionDep, user: CurrentUser, assignment_id: Id | None = None) -> list[Submission]:
    """Newest first: your own, and for instructors everyone's in the courses they teach."""
    assignment = courses.get_assignment(db, user, assignment_id) if assignment_id is not None else None
    return submissions.submissions_of(db, user, assignment)


@router.get("/submissions/{submission_id}", response_model=SubmissionDetail, responses=errors(
    403, 404, 409, meaning={409: "the published rubric version cannot be read (the message says how to publish)"}))
def get_submission(submission_id: Id, db: SessionDep, user: CurrentUser) -> SubmissionDetail:
    """The status and per-question feedback (without what a student may not see yet)."""
    submission = submissions.get_submission(db, user, submission_id)
    return SubmissionDetail(
        submission=SubmissionPublic.model_validate(submission),
        feedback=SubmissionFeedbackPublic.model_validate(submissions.feedback(db, submission, user)),
    )


@router.post("/submissions/{submission_id}/choose", response_model=ChoicePublic, responses=errors(
    403, 404, 409, meaning={409: "the assignment does not count the submission its student chooses, or the course "
                                 "is archived"}))
def choose_submission(submission_id: Id, db: SessionDep, user: CurrentUser) -> ChosenSubmission:
    """Mark this submission as the one that counts (its student, or an instructor for them)."""
    return choices.choose(db, user, submissions.get_submission(db, user, submission_id))
