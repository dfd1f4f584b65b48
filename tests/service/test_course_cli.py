"""A course run from the command line alone, with the command names scripts rely on: courses,
rosters (one person, a CSV, Canvas's export), assignments and their settings, drops, archiving."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader import cli_courses
from grader.cli import app
from grader.db.models import CourseRole, Enrolment, User
from grader.services import courses, roster


@pytest.fixture
def grader(postgres_db: Session) -> Callable[..., Result]:
    """grader(*args) -> the result of `grader ARGS` in this process, on the test's database."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and message in result.stderr, result.stderr


def test_a_course_is_run_from_the_command_line(
    grader: Callable[..., Result], postgres_db: Session, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    code, prof, ta = f"DL-{tag}", f"prof-{tag}@uni.edu", f"ta-{tag}@uni.edu"
    by = ("--by", prof)
    _ok(grader("users", "add", prof, "--name", "Prof", "--role", "instructor"))
    assert f"created course {code}" in _ok(grader("courses", "add", code, "--title", "Deep learning", *by))

    plain = tmp_path / "roster.csv"
    plain.write_text("email,name,role\n" + f"{ta},Tara,ta\n" + "".join(
        f"s{i:02d}-{tag}@uni.edu,Student {i:02d},\n" for i in range(30)))
    imported = _ok(grader("enrol", code, "--csv", str(plain), *by))
    assert "31 enrolled, 0 changed, 0 unchanged; 31 new accounts" in imported
    assert "0 enrolled, 0 changed, 31 unchanged; 0 new accounts" in _ok(grader("enrol", code, "--csv", str(plain), *by))
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(f'Student,ID,SIS User ID,SIS Login ID,Section\n"Lovelace, Ada",4711,S1,ada-{tag},A\n')
    assert "1 enrolled" in _ok(grader("enrol", code, "--csv", str(canvas), "--login-domain", "uni.edu", *by))
    assert "as ta" in _ok(grader("enrol", code, f"late-{tag}@uni.edu", "--role", "ta", "--name", "Late", *by))

    shown = _ok(grader("roster", code, *by))
    assert f"{code}: 34 people" in shown and "4711" in shown
    exported = _ok(grader("roster", code, "--csv", *by)).splitlines()
    assert exported[0] == "email,name,role" and f"{ta},Tara,ta" in exported and len(exported) == 35

    added = _ok(grader("assignments", "add", code, "hw2", "--rubric", "hw2", "--due", "2030-01-01T12:00",
                       "--max-submissions", "3", "--cooldown", "60", *by))
    assert f"created {code} hw2" in added and "HW2: convolutions" in added
    assignment = courses.find_assignment(postgres_db, "hw2", code)
    assert (assignment.due_at, assignment.max_submissions, assignment.cooldown_s) == (
        datetime(2030, 1, 1, 12, tzinfo=UTC), 3, 60)
    _ok(grader("assignments", "edit", code, "hw2", "--max-submissions", "none", "--cooldown", "0",
               "--release", "2030-01-02T00:00Z", "--title", "HW2", *by))
    postgres_db.expire_all()
    assert (assignment.title, assignment.max_submissions, assignment.cooldown_s, assignment.release_at) == (
        "HW2", None, None, datetime(2030, 1, 2, tzinfo=UTC))
    listed = _ok(grader("assignments", "list", code, *by))
    assert "hw2" in listed and "2030-01-01 12:00" in listed

    _refused(grader("assignments", "edit", code, "hw2", "--cooldown", "5", "--by", ta), "only instructors of")
    _refused(grader("assignments", "edit", code, "hw2", "--due", "soon", *by), "is not an ISO 8601")
    _refused(grader("assignments", "edit", code, "hw2", *by), "give a setting to change")
    _refused(grader("assignments", "add", code, "hw3", "--rubric", "../etc", *by), "a rubric id is the name")

    _ok(grader("drop", code, f"s00-{tag}@uni.edu", *by))
    postgres_db.expire_all()
    assert roster.role_counts(postgres_db, courses.find_course(postgres_db, code)) == {
        CourseRole.instructor: 1, CourseRole.ta: 2, CourseRole.student: 30}
    listed_courses = _ok(grader("courses", "list", *by))
    assert code in listed_courses and "instructor" in listed_courses
    _ok(grader("courses", "archive", code, *by))
    _refused(grader("enrol", code, f"new-{tag}@uni.edu", *by), "is archived")
    assert f"reopened {code}" in _ok(grader("courses", "reopen", code, *by))
    _ok(grader("enrol", code, f"new-{tag}@uni.edu", *by))


def _people(db: Session, code: str) -> set[tuple[str, str, CourseRole]]:
    course = courses.find_course(db, code)
    rows = db.execute(select(User.email, User.name, Enrolment.role).join(Enrolment.user)
                      .where(Enrolment.course_id == course.id))
    return {(email, name, role) for email, name, role in rows}


def test_a_roster_exported_as_csv_imports_again_as_the_same_people(
    grader: Callable[..., Result], postgres_db: Session, tmp_path: Path
) -> None:
    """The export quotes a cell that starts like a formula (CSV injection); the import takes the
    quote off again, so such an email is still its account's."""
    tag = uuid.uuid4().hex[:8]
    code, other, prof = f"DL-{tag}", f"DL2-{tag}", f"prof-{tag}@uni.edu"
    by = ("--by", prof)
    _ok(grader("users", "add", prof, "--name", "Prof", "--role", "instructor"))
    _ok(grader("courses", "add", code, "--title", "Deep learning", *by))
    _ok(grader("courses", "add", other, "--title", "Deep learning again", *by))
    for email, name, role in [(f"-jo-{tag}@uni.edu", "-Jo", "ta"), (f"+al-{tag}@uni.edu", "=Al", "student"),
                              (f"=ed-{tag}@uni.edu", "'s-Gravesande", "student")]:
        _ok(grader("enrol", code, f"--role={role}", f"--name={name}", *by, "--", email))
    exported = tmp_path / "roster.csv"
    exported.write_text(_ok(grader("roster", code, "--csv", *by)))
    assert f"'-jo-{tag}@uni.edu,'-Jo,ta" in exported.read_text()  # still no formula

    imported = _ok(grader("enrol", other, "--csv", str(exported), *by))
    assert "3 enrolled, 0 changed, 1 unchanged; 0 new accounts" in imported
    postgres_db.expire_all()
    assert _people(postgres_db, other) == _people(postgres_db, code)


def test_a_roster_on_a_narrow_terminal_shows_each_email_whole(
    grader: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An email tells people apart, so it is never cut, even on 80 columns (a pipe's width) with one
    of 60 characters; a long name folds onto more lines, whole."""
    # A console takes COLUMNS when it is made, which the session's first command may have done: so a console of its own.
    monkeypatch.setattr(cli_courses, "out", Console(width=80))
    tag = uuid.uuid4().hex[:8]
    code, prof = f"DL-{tag}", f"prof-{tag}@uni.edu"
    email, name = f"a.konstantinopoulou-{tag}@students.university.example.edu", "Alexandra Konstantinopoulou"
    by = ("--by", prof)
    _ok(grader("users", "add", prof, "--name", "Prof", "--role", "instructor"))
    _ok(grader("courses", "add", code, "--title", "Deep learning", *by))
    _ok(grader("enrol", code, email, "--name", name, *by))
    shown = _ok(grader("roster", code, *by))
    assert "…" not in shown, shown
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in shown.splitlines() if line.startswith("│")]
    first = next(i for i, row in enumerate(rows) if row[0] == email)  # on one line; the student comes last
    assert "".join(row[1] for row in rows[first:]) == name.replace(" ", ""), shown


def test_bad_enrolments_say_what_is_wrong_and_import_nothing(
    grader: Callable[..., Result], postgres_db: Session, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    code, prof = f"DL-{tag}", f"prof-{tag}@uni.edu"
    by = ("--by", prof)
    _ok(grader("users", "add", prof, "--name", "Prof", "--role", "instructor"))
    _ok(grader("courses", "add", code, "--title", "Deep learning", *by))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"email,name,role\ngood-{tag}@uni.edu,Good,\n[bold]not-an-email,Bad,\nx-{tag}@uni.edu,X,boss\n")
    refused = grader("enrol", code, "--csv", str(bad), *by)
    _refused(refused, "2 bad line(s) in the roster, nothing was imported")
    assert "line 3: '[bold]not-an-email' is not an email address" in refused.stderr  # shown, not read as markup
    assert "line 4: the role is one of student, ta, instructor, not 'boss'" in refused.stderr
    assert roster.role_counts(postgres_db, courses.find_course(postgres_db, code)) == {CourseRole.instructor: 1}
    _refused(grader("enrol", code, *by), "name one EMAIL or pass --csv FILE")
    _refused(grader("enrol", f"NOPE-{tag}", f"a-{tag}@uni.edu", *by), f"no course 'NOPE-{tag}'")
    _refused(grader("courses", "add", code, "--title", "Again", *by), "already exists")
    _refused(grader("drop", code, f"nobody-{tag}@uni.edu", *by), "no user")
