"""`grader grade` on hostile uploads: it finishes grading, exits 0, and prints exactly what it
should (one JSON document with --json; a table in which student text is shown, never obeyed); and
the staff's commands, which show what students and staff stored (token labels, names, titles,
reasons) as it was stored, never read as Rich markup or sent to the terminal raw."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from grader import cli
from tests.fixtures.services import Stack
from tests.test_submission import MALFORMED_NOTEBOOKS

NOTEBOOKS = {name: MALFORMED_NOTEBOOKS[name][0]
             for name in ("source a list of numbers", "nested too deeply", "a lone surrogate", "a 5,000-digit number")}


def grade(grader_cli: Callable[..., Result], path: Path, *options: str) -> Result:
    """`grader grade PATH -a hw2 OPTIONS` on a wide terminal, so no message is folded."""
    return grader_cli("grade", str(path), "-a", "hw2", *options, env={"COLUMNS": "400"})


@pytest.mark.parametrize("data", NOTEBOOKS.values(), ids=NOTEBOOKS.keys())
def test_a_malformed_notebook_is_graded_zero_as_one_json_document(grader_cli, tmp_path, data):
    path = tmp_path / "hw2.ipynb"
    path.write_bytes(data)
    done = grade(grader_cli, path, "--json")
    assert done.exit_code == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # the whole of stdout is one document
    assert result["score"] == 0
    assert result["output"].startswith(("not a valid Jupyter notebook", "'hw2.ipynb' contains")), result["output"]
    assert all(test["output"] and test["score"] == 0 for test in result["tests"])


HOSTILE_MESSAGES = textwrap.dedent("""
    def initial_loss(num_classes):
        raise ValueError("closing [/] nothing")

    def initial_accuracy(num_classes):
        raise ValueError("[bold]loud[/bold] [link=https://evil.example]click[/link] [red on white]x[/]")

    def conv_output_size(L, K, S=1, P=0, D=1):
        raise ValueError("\\x1b[2J\\x1b]0;owned\\x07 back\\roverwritten \\x9b31m")

    def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
        raise ValueError("half a pair: \\ud800")
""")


def test_student_text_in_the_table_is_shown_not_obeyed(grader_cli, tmp_path):
    path = tmp_path / "hw2.py"
    path.write_text(HOSTILE_MESSAGES)
    done = grade(grader_cli, path)
    assert done.exit_code == 0, done.stderr[-2000:]
    shown = done.stdout_bytes.decode("utf-8")
    assert "closing [/] nothing" in shown
    assert "[bold]loud[/bold] [link=https://evil.example]click[/link] [red on white]x[/]" in shown
    assert not any(c in shown for c in "\x1b\x07\r\x9b"), "control characters reached the terminal"
    assert "\\x1b[2J\\x1b]0;owned\\x07 back\\roverwritten \\x9b31m" in shown
    assert "half a pair: \\ud800" in shown

    as_json = grade(grader_cli, path, "--json")
    assert as_json.exit_code == 0, as_json.stderr[-2000:]
    tests = {t["number"]: t["output"] for t in json.loads(as_json.stdout)["tests"]}
    assert "closing [/] nothing" in tests["1.3.4"]
    assert "\x1b[2J" in tests["1.1b"]  # JSON escapes it; what shows it is the reader's choice


# Markup that does not close, markup that would, and escape sequences that clear the screen and set its title.
HOSTILE = "[/x] [bold]loud[/bold] \x1b[2J\x1b]0;pwned\x07"
AS_SHOWN = "[/x] [bold]loud[/bold] \\x1b[2J\\x1b]0;pwned\\x07"


@pytest.fixture
def staff(use_stack: Callable[[Stack], None], postgres_stack: Stack) -> Callable[..., str]:
    """staff(*args) -> what `grader ARGS` wrote on stdout, run in this process on the session's database on a
    wide terminal (no cell folded); it must exit 0 and write no control character."""
    use_stack(postgres_stack)
    runner = CliRunner()

    def run(*args: str) -> str:
        done = runner.invoke(cli.app, list(args), catch_exceptions=False, env={"COLUMNS": "400"})
        assert done.exit_code == 0, done.output
        shown = done.stdout_bytes.decode("utf-8")
        assert not any(c in shown for c in "\x1b\x07\x9b"), f"control characters reached the terminal: {shown!r}"
        return shown

    return run


def test_a_students_token_label_is_shown_as_they_wrote_it(staff: Callable[..., str]) -> None:
    tag = uuid.uuid4().hex[:8]
    admin, student = f"admin-{tag}@uni.edu", f"stu-{tag}@uni.edu"
    staff("users", "add", admin, "--name", "Admin", "--role", "admin")
    staff("users", "add", student, "--name", "Stu", "--role", "student")
    staff("tokens", "create", student, "--label", HOSTILE)
    listed = staff("tokens", "list", "--user", student, "--by", admin)
    assert AS_SHOWN in listed and student in listed


def test_names_titles_and_reasons_are_shown_as_stored(staff: Callable[..., str], tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    code, prof, kim = f"DL-{tag}", f"prof-{tag}@uni.edu", f"kim-{tag}@uni.edu"
    by = ("--by", prof)
    staff("users", "add", prof, "--name", "Prof", "--role", "instructor")
    assert f"created course {code} (id " in staff("courses", "add", code, "--title", "Intro [/b]", *by)
    assert "Intro [/b]" in staff("courses", "list", *by)

    csv = tmp_path / "roster.csv"
    csv.write_text(f"email,name,role\n{kim},Alex Kim [he/him],student\nlee-{tag}@uni.edu,Lee [/x] Park,student\n"
                   f"eve-{tag}@uni.edu,{HOSTILE},student\n")
    staff("enrol", code, "--csv", str(csv), *by)
    roster = staff("roster", code, *by)
    assert "Alex Kim [he/him]" in roster and "Lee [/x] Park" in roster and AS_SHOWN in roster

    added = staff("assignments", "add", code, "hw2", "--rubric", "hw2", "--title", HOSTILE, "--due", "2030-01-01", *by)
    assert f"created {code} hw2 (id " in added and f": {AS_SHOWN}, rubric hw2 " in added
    assert AS_SHOWN in staff("assignments", "list", code, *by)

    staff("extensions", "grant", code, "hw2", kim, "--until", "2030-01-08", "--reason", HOSTILE, *by)
    extended = staff("extensions", "list", code, "hw2", *by)
    assert kim in extended and AS_SHOWN in extended
