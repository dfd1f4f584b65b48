"""Courses and who is in them: enrolments, the roster, invitations, the course's grace days."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from grader.api.schemas.accounts import UserPublic
from grader.api.schemas.common import ReadModel, Seconds
from grader.web.deps import Text


class CourseIn(BaseModel):
    code: Text = Field(max_length=50, description="short and unique, e.g. DL-2026: letters, digits, '.', '_', '-'")
    title: Text = Field(max_length=200)


class CoursePublic(ReadModel):
    id: int
    code: str
    title: str
    created_at: datetime
    archived_at: datetime | None = Field(description="archived courses take no uploads or changes")


class MembershipPublic(ReadModel):
    course: CoursePublic
    role: str = Field(description="the caller's role: student, ta or instructor")


class EnrolmentIn(BaseModel):
    """Enrol someone (their account is created if there is none), or change their role."""

    email: Text = Field(max_length=320)
    role: Literal["student", "ta", "instructor"] = "student"
    name: Text = Field("", max_length=200, description="for a new account (default: the email)")


class EnrolmentPublic(ReadModel):
    user: UserPublic
    role: str
    canvas_id: str | None
    sis_user_id: str | None
    sis_login_id: str | None
    section: str | None


class RosterPagePublic(ReadModel):
    total: int = Field(description="people matching the search, over all pages")
    offset: int
    limit: int
    enrolments: list[EnrolmentPublic]


class RosterImportPublic(ReadModel):
    accounts_created: int
    enrolled: int
    changed: int = Field(description="enrolments whose role or ids changed")
    unchanged: int
    skipped: list[str] = Field(
        description="lines that name no one (Canvas's points-possible and manual-posting rows, its test student)")


class InvitesIn(BaseModel):
    """Whom to send a "set your password" link: the people named, or everyone without a password."""

    emails: list[Annotated[Text, Field(max_length=320)]] | None = Field(
        None, max_length=10_000, description="people of the course (a reset for those who have a password)")
    all_without_password: bool = Field(False, description="everyone in the course without a password but you")


class InvitePublic(ReadModel):
    email: str
    name: str
    link: str = Field(description="one use, shown only now: whoever opens it sets the account's password")
    expires_at: datetime


class InvitesPublic(ReadModel):
    invites: list[InvitePublic]
    skipped: list[str] = Field(description="people without a password whose links are not yours to issue, and why")


class GraceDaysIn(BaseModel):
    grace_days: Annotated[int, Strict()] = Field(ge=0, description="per student, spent by late work")


class AssignmentRef(ReadModel):
    id: int
    slug: str
    title: str


class GraceEntryPublic(ReadModel):
    student: UserPublic
    assignment: AssignmentRef
    submission_id: int
    late_by_s: Seconds = Field(validation_alias="late_by")
    days: int = Field(description="grace days spent on this assignment")
    left: int = Field(description="days left after it")


class GraceLeftPublic(BaseModel):
    student: UserPublic
    days_left: int


class GraceLedgerPublic(BaseModel):
    """Oldest assignment first (by due date); each takes the fewest days that give it its best credit."""

    course_id: int
    grace_days: int
    entries: list[GraceEntryPublic]
    left: list[GraceLeftPublic]
