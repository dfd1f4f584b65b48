"""The first admin of a new deployment: `grader db upgrade` (docker compose's `migrate` job) creates
it from GRADER_ADMIN_EMAIL and GRADER_ADMIN_PASSWORD while no admin exists, and never again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from grader.cli import app as grader_cli
from grader.config import get_settings
from grader.db.models import Role, User
from grader.db.session import session_scope
from grader.services import users
from tests.fixtures.services import Stack


@pytest.fixture
def bootstrap(sqlite_stack: Stack, use_stack: Callable[[Stack], None]) -> Callable[..., Stack]:
    """bootstrap(email, password=...): a fresh database whose settings name `email` as the first admin."""

    def configure(email: str, password: str = "first-admin-password") -> Stack:
        stack = sqlite_stack.with_env(GRADER_ADMIN_EMAIL=email, GRADER_ADMIN_PASSWORD=password)
        use_stack(stack)
        return stack

    return configure


def _admins() -> list[str]:
    with session_scope() as db:
        return list(db.scalars(select(User.email).where(User.role == Role.admin)))


def test_the_migrate_job_creates_the_first_admin_once(bootstrap: Callable[[str], Stack]) -> None:
    bootstrap("Root@Example.edu")
    cli = CliRunner()
    first = cli.invoke(grader_cli, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "created the first admin, root@example.edu" in first.output
    assert _admins() == ["root@example.edu"]
    with session_scope() as db:
        assert users.authenticate(db, "root@example.edu", "first-admin-password") is not None

    scores = cli.invoke(grader_cli, ["scores", "hw9"])  # acts as that admin: past "no admin user yet"
    assert scores.exit_code == 2 and "no assignment 'hw9'" in scores.output

    again = cli.invoke(grader_cli, ["db", "upgrade"])
    assert again.exit_code == 0 and "created" not in again.output
    assert _admins() == ["root@example.edu"]


def test_an_existing_admin_means_no_new_one(bootstrap: Callable[[str], Stack]) -> None:
    bootstrap("second@example.edu")
    with session_scope() as db:
        users.create_user(db, "already@example.edu", "Admin", "admin")
        db.commit()
    done = CliRunner().invoke(grader_cli, ["db", "upgrade"])
    assert done.exit_code == 0 and "created" not in done.output
    assert _admins() == ["already@example.edu"]


def test_an_email_taken_by_another_account_is_an_error(bootstrap: Callable[[str], Stack]) -> None:
    bootstrap("student@example.edu")
    with session_scope() as db:
        users.create_user(db, "student@example.edu", "Student", "student")
        db.commit()
    done = CliRunner().invoke(grader_cli, ["db", "upgrade"])
    assert done.exit_code == 2
    assert "GRADER_ADMIN_EMAIL: a user with email student@example.edu already exists" in done.output
    assert _admins() == []


def test_without_the_variable_nobody_is_created(bootstrap: Callable[[str], Stack]) -> None:
    bootstrap("")
    assert get_settings().admin_email == ""
    done = CliRunner().invoke(grader_cli, ["db", "upgrade"])
    assert done.exit_code == 0 and _admins() == []


def test_a_first_admin_password_the_pages_would_refuse_is_refused(bootstrap: Callable[..., Stack]) -> None:
    """GRADER_ADMIN_PASSWORD=admin made an admin whose password an invitation would have refused."""
    bootstrap("weak@example.edu", "admin")
    refused = CliRunner().invoke(grader_cli, ["db", "upgrade"])
    assert refused.exit_code != 0 and "a password has at least 10 characters" in refused.output, refused.output
    assert _admins() == []
