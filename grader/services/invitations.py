"""Invitations: one-time links that let an account choose its password.

A roster import creates accounts without a password, and their students cannot log in to the
pages. A course's instructors issue links (`/invite/{token}` under GRADER_PUBLIC_URL) that expire
after GRADER_INVITE_TTL_DAYS; a token is random and only its SHA-256 is stored, as for API
tokens. A new link replaces the account's old one and setting the password uses it up. A link for
an account that has a password is a reset: the old password works until the link is used, and
using it ends the account's sessions and deletes its API tokens (whoever knew the old password
may have made one).

Setting someone's password is taking over their account, and any instructor can enrol any account
by its email, so links are issued only for people of the course who are in no course the issuer
does not run and hold no work there, and for admins only by admins. Work counts after a drop: a
dropped student's submissions (with their grades and choices) and extensions stay in the course,
and the account still reads its own submissions. That is checked when a link is issued, so a new
enrolment ends the person's link (end_links). Nothing here commits: the caller does.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import (
    ApiToken,
    Assignment,
    Course,
    CourseRole,
    Enrolment,
    Extension,
    Invitation,
    Role,
    Submission,
    User,
)
from grader.services import users
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.permissions import can_change_settings, require_change_settings
from grader.services.spreadsheet import csv_text

DEAD_LINK = "This link is unknown, used or expired: ask your instructor for a new one."
STAFF = (CourseRole.ta, CourseRole.instructor)


@dataclass(frozen=True)
class Invite:
    email: str
    name: str
    link: str  # holds the token: shown once, never stored
    expires_at: datetime


@dataclass(frozen=True)
class Issued:
    invites: list[Invite]
    skipped: list[str]  # people without a password the issuer may not set one for, and why


def _link(token: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/invite/{token}"


def _ties(db: Session, course: Course, people: list[User]) -> list[tuple[int, int, str]]:
    """(user id, course id, how they are tied to it) for each course but `course` that each of
    `people` is in, or holds submissions or extensions in (those stay when a student is dropped)."""
    ids = [p.id for p in people]
    enrolled = db.execute(select(Enrolment.user_id, Enrolment.course_id, Enrolment.role).where(
        Enrolment.user_id.in_(ids), Enrolment.course_id != course.id))
    ties = [(user_id, course_id, "is staff of" if role in STAFF else "is in") for user_id, course_id, role in enrolled]
    for held in (Submission, Extension):
        rows = db.execute(select(held.user_id, Assignment.course_id).distinct()
                          .join(Assignment, Assignment.id == held.assignment_id)
                          .where(held.user_id.in_(ids), Assignment.course_id != course.id))
        ties += [(user_id, course_id, "has submissions or extensions in") for user_id, course_id in rows]
    return ties


def _refusals(db: Session, actor: User, course: Course, people: list[User]) -> dict[int, str]:
    """Why `actor` may not set the password of each of `people` who is out of reach, by user id:
    admins (for all but admins), and anyone tied to a course the actor does not run (in it in any
    role, or holding work there), since any instructor can enrol any account by its email."""
    refusals = {p.id: f"{p.email} is an admin: only an admin can reset an admin's password"
                for p in people if p.role == Role.admin and actor.role != Role.admin}
    runs: dict[int, bool] = {}
    emails = {p.id: p.email for p in people}
    for user_id, course_id, how in _ties(db, course, people):  # the other course is not named: not the actor's to know
        if course_id not in runs:
            runs[course_id] = can_change_settings(db, actor, course_id)
        if not runs[course_id]:
            refusals.setdefault(user_id, f"{emails[user_id]} {how} a course you do not run: ask its "
                                         "instructors or an admin for their link")
    return refusals


def _named(db: Session, course: Course, emails: Sequence[str]) -> list[User]:
    """The course's people with these emails; NotFound names those who are not in it, alike whether
    they have an account or not."""
    wanted = list(dict.fromkeys(users.normalize_email(email) for email in emails))
    if not wanted:
        raise Rejected(422, "name at least one email, or ask for everyone without a password")
    enrolled = select(User).join(Enrolment, Enrolment.user_id == User.id).where(Enrolment.course_id == course.id)
    found = {user.email: user for user in db.scalars(enrolled.where(User.email.in_(wanted)))}
    missing = [email for email in wanted if email not in found]
    if missing:
        raise NotFound(f"not enrolled in {course.code}: {', '.join(missing[:20])}")
    return [found[email] for email in wanted]


def _without_password(db: Session, actor: User, course: Course) -> list[User]:
    return list(db.scalars(
        select(User).join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == course.id, User.password_hash.is_(None), User.id != actor.id)
        .order_by(User.email)
    ))


def _issue(db: Session, people: list[User]) -> list[Invite]:
    """A fresh link for each person, replacing the one they had; flushed."""
    now = utcnow()
    expires_at = now + timedelta(days=get_settings().invite_ttl_days)
    current = {row.user_id: row for row in db.scalars(
        select(Invitation).where(Invitation.user_id.in_([person.id for person in people])))}
    invites = []
    for person in people:
        token = secrets.token_urlsafe(32)
        row = current.get(person.id) or Invitation(user_id=person.id)
        row.token_hash, row.created_at, row.expires_at = users.secret_hash(token), now, expires_at
        db.add(row)
        invites.append(Invite(person.email, person.name, _link(token), expires_at))
    db.flush()
    return invites


def issue_invites(db: Session, actor: User, course: Course, emails: Sequence[str] | None) -> Issued:
    """Links for the course's people named by `emails` (all or none: Forbidden if one is out of
    reach), or, with None, for everyone in the course without a password but the actor (those out
    of reach are skipped)."""
    require_change_settings(db, actor, course)
    people = _without_password(db, actor, course) if emails is None else _named(db, course, emails)
    refusals = _refusals(db, actor, course, people)
    if emails is not None and refusals:
        raise Forbidden("; ".join(refusals.values()))
    return Issued(_issue(db, [p for p in people if p.id not in refusals]), list(refusals.values()))


def invites_csv(invites: Sequence[Invite]) -> str:
    return csv_text([["email", "name", "link"], *([i.email, i.name, i.link] for i in invites)])


def invited_user(db: Session, token: str) -> User | None:
    """The account a link is for, unless the link is unknown, used, replaced or expired."""
    return db.scalar(select(User).join(Invitation, Invitation.user_id == User.id)
                     .where(Invitation.token_hash == users.secret_hash(token), Invitation.expires_at > utcnow()))


def _check_new_password(password: str, confirmation: str) -> None:
    users.valid_password(password)
    if password != confirmation:
        raise Rejected(422, "the two passwords do not match")


def accept_invite(db: Session, token: str, password: str, confirmation: str) -> User:
    """Set the password of the link's account and use the link up; flushed. A refused password
    leaves the link as it was. The link is deleted in the same statement that checks it, so two
    requests racing with one link set one password."""
    _check_new_password(password, confirmation)
    used = delete(Invitation).where(Invitation.token_hash == users.secret_hash(token), Invitation.expires_at > utcnow())
    user_id = db.execute(used.returning(Invitation.user_id), execution_options={"synchronize_session": False}
                         ).scalar_one_or_none()
    if user_id is None:
        raise NotFound(DEAD_LINK)
    user = db.get_one(User, user_id)
    user.password_hash = users.hash_password(password)
    user.session_version += 1  # a reset ends the sessions of whoever knew the old password
    db.execute(delete(ApiToken).where(ApiToken.user_id == user_id))  # and the tokens they made with it
    db.flush()
    return user


def end_links(db: Session, user_ids: Sequence[int]) -> None:
    """Delete these people's links: they were issued for the courses each was in then, and one they
    join since may be run by someone else than the issuer."""
    if user_ids:
        db.execute(delete(Invitation).where(Invitation.user_id.in_(user_ids)))
