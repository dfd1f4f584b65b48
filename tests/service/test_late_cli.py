"""`grader assignments|extensions|grace|choose|scores`: late work run from the command line,
with a clear `error:` and exit status 2 for every bad input."""

from __future__ import annotations

import csv
import io

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli import app as grader_cli
from grader.db.models import Assignment
from grader.services import users
from tests.service.helpers import make_class, upload


def _run(*args: str) -> Result:
    return CliRunner().invoke(grader_cli, list(args), catch_exceptions=False)


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert "error" in result.output
    return result.output


def test_late_work_from_the_command_line(quiet_db: Session) -> None:
    """On queues no worker reads: the upload stays ungraded, so its credited total stays empty."""
    db = quiet_db
    klass = make_class(db)
    code, prof, student = klass.course.code, klass.instructor.email, klass.students[0]
    by = ("--by", prof)

    assert "'2x' in '2x=80' is not a duration" in _refused("assignments", "add", code, "hw9", "--rubric", "hw2",
                                                         "--late-credit", "2x=80", *by)
    db.rollback()
    assert db.scalar(select(Assignment).where(Assignment.slug == "hw9")) is None
    assert "not an ISO 8601" in _refused("assignments", "add", code, "hw9", "--rubric", "hw2", "--due", "friday", *by)
    added = _ok("assignments", "add", code, "hw9", "--rubric", "hw2", "--due", "2030-01-01T00:00",
                "--late-credit", "48h=80, 7d=50", *by)
    assert "up to 2d late: 80 %, up to 7d late: 50 %, then 0 %" in added and "the last submission counts" in added

    edited = _ok("assignments", "edit", code, "hw9", "--late-after", "reject", "--counts", "best", *by)
    assert "then uploads refused" in edited and "the best submission counts" in edited
    assert "late: full credit" in _ok("assignments", "edit", code, "hw9", "--late-credit", "none",
                                      "--late-after", "full", *by)
    assert "one of last, best, chosen" in _refused("assignments", "edit", code, "hw9", "--counts", "first", *by)
    assert "only instructors" in _refused("assignments", "edit", code, "hw9", "--counts", "best",
                                          "--by", student.email)

    granted = _ok("extensions", "grant", code, "hw9", student.email, "--until", "2030-01-03T12:00",
                  "--reason", "flu", *by)
    assert "2030-01-03 12:00 UTC" in granted
    listed = _ok("extensions", "list", code, "hw9", *by)
    assert student.email in listed and "2030-01-03 12:00" in listed and "flu" in listed
    assert "must end after the due date" in _refused("extensions", "grant", code, "hw9", student.email,
                                                    "--until", "2029-12-31", *by)
    assert "no user nobody@x.edu" in _refused("extensions", "grant", code, "hw9", "nobody@x.edu",
                                              "--until", "2030-01-03", *by)
    _ok("extensions", "revoke", code, "hw9", student.email, *by)
    assert "has no extension" in _refused("extensions", "revoke", code, "hw9", student.email, *by)

    assert "3 grace day(s) per student" in _ok("grace", "set", code, "3", *by)
    assert "from 0 to 365" in _refused("grace", "set", code, "400", *by)
    ledger = _ok("grace", "ledger", code, *by)
    assert "3 grace day(s) per student" in ledger and student.email in ledger
    assert "no course 'NOPE'" in _refused("grace", "ledger", "NOPE", *by)

    submission = upload(db, student, klass.assignment)
    assert "changes nothing" in _refused("choose", str(submission.id), *by)
    _ok("assignments", "edit", code, "hw2", "--counts", "chosen", *by)
    assert f"submission {submission.id} counts" in _ok("choose", str(submission.id), *by)

    users.create_user(db, f"admin-{code}@test.edu", "Admin", "admin")
    db.commit()  # the commands below run in sessions of their own
    totals = list(csv.reader(io.StringIO(_ok("scores", "hw2", "--course", code, "--csv", "--totals"))))
    assert totals[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW2"]
    assert [row[3] for row in totals[2:]] == [student.email]
    full = list(csv.DictReader(io.StringIO(_ok("scores", "hw2", "--course", code, "--csv"))))
    assert (full[1]["hw2 late (hours)"], full[1]["hw2 credit (%)"], full[1]["HW2"]) == ("0.00", "100", "")
    assert student.email in _ok("scores", "hw2", "--course", code)


def test_an_archived_course_refuses_extensions_grace_days_and_choices_from_the_command_line(
    quiet_db: Session,
) -> None:
    db = quiet_db
    klass = make_class(db, counts="chosen")
    code, student = klass.course.code, klass.students[0]
    by = ("--by", klass.instructor.email)
    submission = upload(db, student, klass.assignment)
    _ok("assignments", "edit", code, "hw2", "--due", "2030-01-01T00:00", *by)
    _ok("extensions", "grant", code, "hw2", student.email, "--until", "2030-01-03T12:00", *by)
    _ok("courses", "archive", code, *by)
    for refused in (
        ("assignments", "edit", code, "hw2", "--late-credit", "2d=80"),
        ("extensions", "grant", code, "hw2", student.email, "--until", "2030-01-05T12:00"),
        ("extensions", "revoke", code, "hw2", student.email),
        ("grace", "set", code, "3"),
        ("choose", str(submission.id)),
    ):
        assert f"{code} is archived" in _refused(*refused, *by), refused


def test_dates_from_year_9000_are_refused_from_the_command_line(quiet_db: Session) -> None:
    klass = make_class(quiet_db)
    code, by = klass.course.code, ("--by", klass.instructor.email)
    _ok("assignments", "edit", code, "hw2", "--due", "2030-01-01T00:00", *by)
    for refused in (
        ("assignments", "add", code, "hw9", "--rubric", "hw2", "--due", "9999-12-31T00:00"),
        ("assignments", "edit", code, "hw2", "--due", "9999-12-31T00:00"),
        ("assignments", "edit", code, "hw2", "--release", "9999-12-31T00:00"),
        ("extensions", "grant", code, "hw2", klass.students[0].email, "--until", "9999-12-31T00:00"),
    ):
        assert "before 9000-01-01" in _refused(*refused, *by), refused
