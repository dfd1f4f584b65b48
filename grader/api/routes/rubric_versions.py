"""The rubric version an assignment is graded with: what publishing the folder on disk would change,
and publishing it (then, if asked, regrading every submission with it)."""

from __future__ import annotations

from fastapi import APIRouter

from grader.api.docs import errors
from grader.api.schemas.rubric_versions import PublishedPublic, PublishIn, RubricDiffPublic, RubricStatusPublic
from grader.services import courses, publishing
from grader.services.publishing import RubricStatus
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/assignments", tags=["rubric versions"], responses=errors(401, 403, 404))


def _status(state: RubricStatus) -> RubricStatusPublic:
    return RubricStatusPublic(
        published_hash=state.published_hash,
        on_disk_hash=state.on_disk.content_hash if state.on_disk is not None else None,
        disk_error=state.disk_error,
        changed=state.changed,
        diff=RubricDiffPublic.model_validate(state.diff) if state.diff is not None else None,
        orphaned_grades=state.orphaned_grades,
        grades_over_new_max=state.grades_over_new_max,
        submissions=state.submissions,
    )


@router.get("/{assignment_id}/rubric", response_model=RubricStatusPublic)
def rubric_status(assignment_id: Id, db: SessionDep, user: CurrentUser) -> RubricStatusPublic:
    """The published version next to the folder on disk (the course's instructors and TAs)."""
    return _status(publishing.rubric_status(db, user, courses.get_assignment(db, user, assignment_id)))


PUBLISH_ERRORS = errors(400, 409, 422, meaning={
    403: "only the course's instructors publish",
    409: "the folder on disk changed since the version you reviewed (`expected_hash`)",
    422: "the folder on disk cannot be used as a rubric (the message says why), or a bad body",
})


@router.post("/{assignment_id}/rubric/publish", response_model=PublishedPublic, responses=PUBLISH_ERRORS)
def publish(assignment_id: Id, body: PublishIn, db: SessionDep, user: CurrentUser) -> PublishedPublic:
    """Make the folder on disk the version every later upload is graded with; scores graded before
    keep their version until regraded (`regrade: true` starts that at once)."""
    assignment = courses.get_assignment(db, user, assignment_id)
    published = publishing.publish(db, user, assignment, body.expected_hash, body.regrade)
    return PublishedPublic(published_hash=assignment.rubric_hash, before=_status(published.before),
                           regrade_batch_id=published.regrade.id if published.regrade is not None else None)
