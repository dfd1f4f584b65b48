"""`grader tokens`: operators create, list and revoke API tokens; a new token expires."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli_accounts import app as service_cli
from grader.config import get_settings
from grader.db.base import MAX_ID
from grader.db.models import ApiToken
from grader.services import users

SHOWN_ONCE = re.compile(r"\(shown once\): (\S+)")


def _token_row(db: Session, token: str) -> ApiToken:
    db.expire_all()
    user = users.user_for_token(db, token)
    assert user is not None
    return db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).first()


def test_tokens_are_created_listed_and_revoked_from_the_command_line(any_db: Session) -> None:
    db = any_db
    users.create_user(db, "root-cli@example.edu", "Root", "admin")
    student = users.create_user(db, "student-cli@example.edu", "Student", "student")
    db.commit()  # the commands below run in sessions of their own
    cli = CliRunner()

    created = cli.invoke(service_cli, ["tokens", "create", student.email, "--label", "notebook", "--expires", "7"])
    assert created.exit_code == 0, created.output
    token = SHOWN_ONCE.search(created.output).group(1)  # type: ignore[union-attr]
    row = _token_row(db, token)
    row_id = row.id
    assert row.label == "notebook"
    assert abs(row.expires_at - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)

    added = cli.invoke(service_cli, ["users", "add", "ta-cli@example.edu", "--name", "TA", "--role", "instructor",
                                     "--token"])
    assert added.exit_code == 0, added.output
    default = _token_row(db, SHOWN_ONCE.search(added.output).group(1))  # type: ignore[union-attr]
    expected = datetime.now(UTC) + timedelta(days=get_settings().token_ttl_days)
    assert abs(default.expires_at - expected) < timedelta(minutes=5)

    listed = cli.invoke(service_cli, ["tokens", "list", "--user", student.email])
    assert listed.exit_code == 0, listed.output
    assert "notebook" in listed.output and str(row_id) in listed.output and token not in listed.output
    assert "ta-cli@example.edu" not in listed.output
    everyone = cli.invoke(service_cli, ["tokens", "list"])
    assert "student-cli@example.edu" in everyone.output and "ta-cli@example.edu" in everyone.output

    revoked = cli.invoke(service_cli, ["tokens", "revoke", str(row_id)])
    assert revoked.exit_code == 0, revoked.output
    db.expire_all()
    assert users.user_for_token(db, token) is None
    again = cli.invoke(service_cli, ["tokens", "revoke", str(row_id)])
    assert again.exit_code == 2 and "no API token" in again.output


def test_a_user_whose_token_is_refused_is_not_created(any_db: Session) -> None:
    """`users add --token` is one transaction: the user and the token, or neither."""
    refused = CliRunner().invoke(service_cli, ["users", "add", "half-made@example.edu", "--name", "Half",
                                               "--role", "student", "--token", "--expires", "100000"])
    assert refused.exit_code == 2 and "lifetime" in refused.output
    assert users.get_user_by_email(any_db, "half-made@example.edu") is None


@pytest.mark.parametrize("token_id", ["0", str(MAX_ID + 1), "99999999999999999999"])
def test_a_token_id_no_token_can_have_is_refused(any_db: Session, token_id: str) -> None:
    """PostgreSQL answered one past 32 bits, and SQLite one past 64, with a traceback."""
    users.create_user(any_db, f"root-{uuid.uuid4().hex[:8]}@example.edu", "Root", "admin")
    any_db.commit()
    refused = CliRunner().invoke(service_cli, ["tokens", "revoke", token_id], env={"COLUMNS": "200"})
    assert refused.exit_code == 2, refused.output
    assert f"{token_id} is not in the range 1<=x<={MAX_ID}" in refused.output


@pytest.mark.parametrize("password", ["s3cret", "x" * 1001])
def test_a_password_the_invitation_page_would_refuse_is_refused_by_users_add(any_db: Session, password: str) -> None:
    """`users add --password` took "a" and stored it, where an invitation asks for 10 to 1,000 characters."""
    refused = CliRunner().invoke(service_cli, ["users", "add", "short-pass@example.edu", "--name", "Short",
                                               "--role", "instructor", "--password", password])
    assert refused.exit_code == 2, refused.output
    assert "a password has at" in refused.output
    assert users.get_user_by_email(any_db, "short-pass@example.edu") is None
