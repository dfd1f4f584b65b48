"""`grader invites`: "set your password" links from the command line, for everyone in a course
without a password or for the people named; only the links' hashes are stored, a file of links is
its owner's alone, and what the command refuses issues nothing."""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli import app
from grader.config import get_settings
from grader.db.models import Course, Enrolment, Invitation
from grader.services import roster, users
from tests.service.helpers import make_class

PUBLIC_URL = "https://grader.example.edu"


@pytest.fixture
def grader(postgres_db: Session, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """grader(*args) -> `grader ARGS` in this process, on the test's database, links under PUBLIC_URL."""
    monkeypatch.setenv("GRADER_PUBLIC_URL", PUBLIC_URL + "/")
    get_settings.cache_clear()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _hashes(db: Session, course: Course) -> dict[int, str]:
    """The stored links of the course's people, by user id."""
    db.rollback()
    people = select(Enrolment.user_id).where(Enrolment.course_id == course.id)
    return {user_id: token_hash for user_id, token_hash in
            db.execute(select(Invitation.user_id, Invitation.token_hash).where(Invitation.user_id.in_(people)))}


def test_links_for_everyone_without_a_password_then_for_one_person(
    grader: Callable[..., Result], postgres_db: Session, tmp_path: Path
) -> None:
    db = postgres_db
    klass = make_class(db, students=3)  # accounts without a password, as a roster import makes them
    code, by = klass.course.code, ("--by", klass.instructor.email)
    has_password = roster.enrol(db, klass.instructor, klass.course, "set@test.edu", "student").user
    has_password.password_hash = users.hash_password("already chosen")
    db.commit()

    everyone = grader("invites", code, "--all-without-password", *by)
    assert everyone.exit_code == 0, everyone.output
    rows = _rows(everyone.stdout)
    assert [row["email"] for row in rows] == sorted(s.email for s in klass.students)  # not the instructor, not set@
    assert {row["name"] for row in rows} == {s.name for s in klass.students}
    assert all(row["link"].startswith(f"{PUBLIC_URL}/invite/") for row in rows)
    stored = _hashes(db, klass.course)
    assert set(stored) == {s.id for s in klass.students}
    tokens = [row["link"].rsplit("/", 1)[1] for row in rows]
    assert not set(tokens) & set(stored.values())  # only hashes are kept
    assert sorted(users.secret_hash(token) for token in tokens) == sorted(stored.values())

    out = tmp_path / "reset.csv"
    out.write_text("")
    out.chmod(0o644)  # a file that was there before, readable by others
    reset = grader("invites", code, klass.students[0].email, "set@test.edu", "--csv", str(out), *by)
    assert reset.exit_code == 0, reset.output
    assert f"wrote 2 invitation link(s) for {code} to {out}" in reset.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [row["email"] for row in _rows(out.read_text())] == [klass.students[0].email, "set@test.edu"]
    after = _hashes(db, klass.course)
    assert after[klass.students[0].id] != stored[klass.students[0].id]  # the older link is replaced
    assert after[klass.students[1].id] == stored[klass.students[1].id]


def test_what_the_command_refuses_issues_nothing(
    grader: Callable[..., Result], postgres_db: Session, tmp_path: Path
) -> None:
    db = postgres_db
    klass = make_class(db, students=2)
    ta = roster.enrol(db, klass.instructor, klass.course, "ta@test.edu", "ta").user
    db.commit()
    code, student = klass.course.code, klass.students[0].email
    refusals = [
        (grader("invites", code, "--all-without-password", "--by", ta.email), "only instructors of"),
        (grader("invites", code, "--all-without-password", "--by", student), "only instructors of"),
        (grader("invites", code, "--by", klass.instructor.email), "name EMAILs or pass --all-without-password"),
        (grader("invites", code, student, "--all-without-password", "--by", klass.instructor.email),
         "name EMAILs or pass --all-without-password"),
        (grader("invites", code, student, "nobody@test.edu", "--by", klass.instructor.email),
         f"not enrolled in {code}: nobody@test.edu"),
        (grader("invites", code, student, "--csv", str(tmp_path / "missing" / "out.csv"), "--by",
                klass.instructor.email), "cannot write"),
    ]
    for result, message in refusals:
        assert result.exit_code == 2, result.output
        assert "error:" in result.stderr and message in result.stderr, result.stderr
    assert _hashes(db, klass.course) == {}
