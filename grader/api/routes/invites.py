"""Invitation links for a course's people: "set your password" links for accounts without one
(a roster import's), or a reset for one person; for the course's instructors."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.docs import errors
from grader.api.schemas.courses import InvitesIn, InvitesPublic
from grader.services import courses, invitations
from grader.services.errors import Rejected
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/courses/{course_id}/invites", tags=["courses"])


@router.post("", response_model=InvitesPublic, responses=errors(400, 401, 403, 404, 422, meaning={
    403: "only the course's instructors issue links; or a named person is staff of a course you do not run",
    404: "no such course, or a named email is not enrolled in it (whether or not it has an account)",
    422: "neither or both of emails and all_without_password, or a bad body",
}))
def issue_invites(course_id: Id, body: InvitesIn, db: SessionDep, user: CurrentUser) -> invitations.Issued:
    """One-time links that set a password, each replacing the person's older link; they expire after
    GRADER_INVITE_TTL_DAYS. Send each to its person: the links are not shown again."""
    if (body.emails is None) == (not body.all_without_password):
        raise Rejected(422, "send either emails or all_without_password: true")
    course = courses.get_course(db, user, course_id)
    return invitations.issue_invites(db, user, course, None if body.all_without_password else body.emails)
