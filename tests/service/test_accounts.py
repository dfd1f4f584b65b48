"""Passwords and API tokens are stored hashed only, and check out the way they should."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import ApiToken, User
from grader.services import assignments, courses, permissions, users
from grader.services.errors import Forbidden, NotFound, Rejected
from tests.service.helpers import make_class


def test_passwords_are_stored_as_scrypt_hashes(any_db: Session) -> None:
    db = any_db
    user = users.create_user(db, " Ada@Example.EDU ", "Ada", "instructor", password="correct horse")
    assert user.email == "ada@example.edu"
    assert user.password_hash is not None and user.password_hash.startswith("scrypt$")
    assert "correct horse" not in user.password_hash
    assert users.authenticate(db, "ada@example.edu", "correct horse") == user
    assert users.authenticate(db, "ADA@example.edu", "correct horse") == user
    assert users.authenticate(db, "ada@example.edu", "wrong") is None
    assert users.authenticate(db, "nobody@example.edu", "correct horse") is None


def test_api_tokens_are_shown_once_and_stored_hashed(any_db: Session) -> None:
    db = any_db
    user = users.create_user(db, "token-owner@example.edu", "Owner", "student")
    token = users.issue_token(db, user, label="laptop")
    stored = db.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user.id)).all()
    assert len(stored) == 1 and token not in stored[0]
    assert users.user_for_token(db, token) == user
    assert users.user_for_token(db, token + "x") is None
    token_only = db.scalar(select(User).where(User.id == user.id))
    assert token_only is not None and token_only.password_hash is None
    assert users.authenticate(db, "token-owner@example.edu", "") is None


@pytest.mark.parametrize(
    ("email", "role", "status"),
    [("not-an-email", "student", 422), ("someone@example.edu", "superuser", 422)],
)
def test_bad_accounts_are_rejected(any_db: Session, email: str, role: str, status: int) -> None:
    with pytest.raises(Rejected) as rejected:
        users.create_user(any_db, email, "Someone", role)
    assert rejected.value.status_code == status


def test_an_email_is_used_once(any_db: Session) -> None:
    users.create_user(any_db, "twice@example.edu", "Once", "student")
    with pytest.raises(Rejected) as rejected:
        users.create_user(any_db, "TWICE@example.edu", "Twice", "student")
    assert rejected.value.status_code == 409


def test_course_membership_decides_what_one_sees(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=1)
    other = make_class(db, students=1)
    student = klass.students[0]
    assert [a.id for a in courses.assignments_for(db, student)] == [klass.assignment.id]
    assert courses.get_assignment(db, student, klass.assignment.id).id == klass.assignment.id
    with pytest.raises(Forbidden):
        courses.get_assignment(db, student, other.assignment.id)
    with pytest.raises(NotFound):
        courses.get_assignment(db, student, other.assignment.id + 10_000)
    with pytest.raises(Forbidden):
        permissions.require_change_settings(db, student, klass.course)
    permissions.require_change_settings(db, klass.instructor, klass.course)
    with pytest.raises(Rejected) as unknown:
        assignments.create_assignment(db, klass.instructor, klass.course, "hw9", "no-such-rubric")
    assert unknown.value.status_code == 422
