"""Courses and who is in them: create, list, archive; enrol, import a roster, drop; progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Response, status

from grader.api.docs import errors
from grader.api.schemas.assignments import AssignmentIn, AssignmentProgressPublic, AssignmentPublic
from grader.api.schemas.courses import (
    CourseIn,
    CoursePublic,
    EnrolmentIn,
    EnrolmentPublic,
    MembershipPublic,
    RosterImportPublic,
    RosterPagePublic,
)
from grader.db.base import MAX_ID
from grader.db.models import Assignment, Course, Enrolment
from grader.services import assignments, courses, dashboard, roster
from grader.web.deps import CurrentUser, Id, SessionDep, Text, UploadDep

router = APIRouter(prefix="/courses", tags=["courses"], responses=errors(401))

COURSE_ERRORS = errors(403, 404, meaning={403: "not enrolled, or the caller's course role does not allow this"})
CHANGE_ERRORS = errors(400, 403, 404, 409, 422, meaning={
    403: "only the course's instructors change it",
    409: "conflicts with the current state (an archived course, a slug or code in use, your own enrolment)",
})


@router.get("", response_model=list[MembershipPublic])
def list_courses(db: SessionDep, user: CurrentUser) -> list[courses.Membership]:
    """Your courses with your role in each (admins: every course), open ones first."""
    return courses.courses_of(db, user)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CoursePublic,
             responses=errors(400, 403, 409, 422, meaning={403: "only instructors and admins create courses"}))
def create_course(body: CourseIn, db: SessionDep, user: CurrentUser) -> Course:
    """A new course; an instructor who creates one teaches it."""
    course = courses.create_course(db, user, body.code, body.title)
    return course


@router.get("/{course_id}", response_model=CoursePublic, responses=COURSE_ERRORS)
def get_course(course_id: Id, db: SessionDep, user: CurrentUser) -> Course:
    return courses.get_course(db, user, course_id)


@router.post("/{course_id}/archive", response_model=CoursePublic, responses=COURSE_ERRORS)
def archive_course(course_id: Id, db: SessionDep, user: CurrentUser) -> Course:
    """No more uploads, enrolments, or changes to assignments, extensions, grace days or the submissions that count;
    everything stays readable and gradable."""
    course = courses.get_course(db, user, course_id)
    courses.archive_course(db, user, course)
    return course


@router.post("/{course_id}/reopen", response_model=CoursePublic, responses=COURSE_ERRORS)
def reopen_course(course_id: Id, db: SessionDep, user: CurrentUser) -> Course:
    """Undo archiving: the course takes uploads, enrolments and changes again."""
    course = courses.get_course(db, user, course_id)
    courses.reopen_course(db, user, course)
    return course


@router.get("/{course_id}/progress", response_model=list[AssignmentProgressPublic], responses=COURSE_ERRORS)
def course_progress(course_id: Id, db: SessionDep, user: CurrentUser) -> list[dashboard.AssignmentProgress]:
    """Per assignment: students who submitted, and submissions graded, failed and queued (staff only)."""
    return dashboard.course_progress(db, user, courses.get_course(db, user, course_id))


@router.get("/{course_id}/assignments", response_model=list[AssignmentPublic], responses=COURSE_ERRORS)
def list_assignments(course_id: Id, db: SessionDep, user: CurrentUser) -> list[Assignment]:
    return courses.assignments_of(db, courses.get_course(db, user, course_id))


@router.post("/{course_id}/assignments", status_code=status.HTTP_201_CREATED, response_model=AssignmentPublic,
             responses=CHANGE_ERRORS)
def create_assignment(course_id: Id, body: AssignmentIn, db: SessionDep, user: CurrentUser) -> Assignment:
    """An assignment graded by a rubric folder, with its settings."""
    course = courses.get_course(db, user, course_id)
    settings = assignments.AssignmentSettings(**body.model_dump(exclude={"slug", "rubric_id"}))
    assignment = assignments.create_assignment(db, user, course, body.slug, body.rubric_id, settings)
    return assignment


@router.get("/{course_id}/roster", response_model=RosterPagePublic, responses=errors(403, 404, 422))
def get_roster(
    course_id: Id, db: SessionDep, user: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = roster.ROSTER_PAGE,
    search: Annotated[Text, Query(max_length=200, description="a part of a name or an email")] = "",
) -> roster.RosterPage:
    """The course's people a page at a time, staff first, then by name (staff only)."""
    return roster.roster(db, user, courses.get_course(db, user, course_id), offset, limit, search)


@router.post("/{course_id}/roster", response_model=RosterImportPublic,
             responses=errors(400, 403, 404, 409, 413, 422, meaning={
                 422: "a bad line (each is named), not UTF-8, or a header that is neither format",
             }))
def import_roster(
    course_id: Id, upload: UploadDep, db: SessionDep, user: CurrentUser,
    login_domain: Annotated[Text, Form(max_length=200, description="makes a Canvas SIS Login ID without @ an "
                                                                   "email: LOGIN@DOMAIN")] = "",
) -> roster.ImportResult:
    """A CSV roster (multipart field `file`): `email,name,role`, or Canvas's `Student,ID,SIS User ID,SIS Login
    ID,Section`. Missing accounts are created; all lines or none; importing again changes nothing."""
    course = courses.get_course(db, user, course_id)
    result = roster.import_roster(db, user, course, upload.data, login_domain.strip() or None)
    return result


@router.post("/{course_id}/enrolments", response_model=EnrolmentPublic, responses=CHANGE_ERRORS)
def enrol(course_id: Id, body: EnrolmentIn, db: SessionDep, user: CurrentUser) -> Enrolment:
    """Enrol one person (creating the account if there is none), or change their role."""
    course = courses.get_course(db, user, course_id)
    enrolment = roster.enrol(db, user, course, body.email, body.role, body.name)
    return enrolment


@router.delete("/{course_id}/enrolments/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=errors(403, 404, 409, meaning={409: "an archived course, or yourself"}))
def drop(course_id: Id, user_id: Id, db: SessionDep, user: CurrentUser) -> Response:
    """End someone's enrolment; their submissions and grades stay."""
    roster.drop(db, user, courses.get_course(db, user, course_id), user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
