"""A course run end to end on PostgreSQL + Redis with a real Celery worker: three assignments, 600
students from a CSV roster and a TA, extensions and late credit; once from the command line alone
(the operators' commands, then the students' `grader login` and `grader submit`), once from the
pages alone in Chromium. The roster's accounts have no password: their people come in through
the invitation links.

Few submissions are graded (by the session's shared worker): the 600 students are mostly roster rows, which
the gradebook, the CSV exports and the invitations still cover in full.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import Result
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from grader import cli
from grader.db.session import session_scope
from grader.services import users
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE
from tests.web.browser import shoot
from tests.web.support import LiveServer, PageSession, Person, tls_context
from tests.web.test_student_cli import Student

STUDENTS = 600
PROF_PASSWORD = "the instructor's own passphrase"
GRADING_TIMEOUT_MS = 120_000
LATE = "2d=80,7d=50"
# HW2's reference earns every auto point (37); a TA gives 3 of 1.2.1a's 4 by hand.
AUTO, BY_HAND = 37, 3


def minute(moment: datetime) -> str:
    """As the CLI's --due and the pages' datetime-local fields take it: UTC, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def roster_csv(tag: str) -> tuple[bytes, list[str], str]:
    """email,name,role for a TA and STUDENTS students: the file, the students' emails, the TA's."""
    students = [f"s{i:03d}-{tag}@uni.edu" for i in range(STUDENTS)]
    ta = f"ta-{tag}@uni.edu"
    lines = ["email,name,role", f"{ta},Tara Assistant,ta",
             *(f"{email},Student {i:03d},student" for i, email in enumerate(students))]
    return ("\n".join(lines) + "\n").encode(), students, ta


def links(sheet: str) -> dict[str, str]:
    """email -> link, from invitations as email,name,link."""
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert rows and list(rows[0]) == ["email", "name", "link"]
    return {row["email"]: row["link"] for row in rows}


def gradebook_rows(sheet: str) -> dict[str, dict[str, str]]:
    """The per-question gradebook CSV by student email (Canvas's SIS Login ID column), without the
    points-possible row."""
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert rows[0]["Student"].strip() == "Points Possible"
    return {row["SIS Login ID"]: row for row in rows[1:]}


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr


def accept_invitation(server: LiveServer, link: str, password: str) -> None:
    """What a student does with the link in a browser without JavaScript: choose a password."""
    assert link.startswith(f"{server.url}/invite/")
    with PageSession(base_url=server.url, timeout=30, verify=tls_context()) as browser:
        form = browser.get(urlsplit(link).path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert form.status_code == 200 and token, form.text[:300]
        done = browser.post(urlsplit(link).path, data={"password": password, "confirmation": password,
                                                       "csrf_token": token.group(1)})
        assert done.status_code == 303, done.text[:300]


def test_a_course_runs_from_the_command_line_alone(
    postgres_server_app: LiveServer, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    postgres_worker: WorkerProcess, tmp_path: Path,
) -> None:
    server = postgres_server_app
    use_stack(postgres_stack.with_env(GRADER_PUBLIC_URL=server.url))  # the operator's links lead to the server
    runner = CliRunner()

    def grader(*args: str) -> Result:
        return runner.invoke(cli.app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})

    tag = uuid.uuid4().hex[:8]
    code, prof = f"DL-{tag}", f"prof-{tag}@uni.edu"
    by = ("--by", prof)
    now = datetime.now(UTC)
    _ok(grader("users", "add", prof, "--name", "Ada Prof", "--role", "instructor", "--password", PROF_PASSWORD))
    assert f"created course {code}" in _ok(grader("courses", "add", code, "--title", "Deep Learning", *by))
    data, students, ta = roster_csv(tag)
    roster = tmp_path / "roster.csv"
    roster.write_bytes(data)
    assert f"{STUDENTS + 1} enrolled, 0 changed, 0 unchanged; {STUDENTS + 1} new accounts" in _ok(
        grader("enrol", code, "--csv", str(roster), *by))
    assert len(_ok(grader("roster", code, "--csv", *by)).splitlines()) == 1 + STUDENTS + 2  # header, TA, prof

    # hw1 was due a day ago, with late credit; hw2 takes one submission; hw3 refuses late work.
    added = _ok(grader("assignments", "add", code, "hw1", "--rubric", "hw2", "--title", "HW1", "--due",
                       minute(now - timedelta(days=1)), "--late-credit", LATE, "--max-submissions", "3",
                       "--cooldown", "3600", "--counts", "best", *by))
    assert "up to 2d late: 80 %, up to 7d late: 50 %" in " ".join(added.split())
    _ok(grader("assignments", "add", code, "hw2", "--rubric", "hw2", "--title", "HW2", "--due",
               minute(now + timedelta(days=7)), "--max-submissions", "1", "--counts", "last", *by))
    _ok(grader("assignments", "add", code, "hw3", "--rubric", "hw2", "--title", "HW3", "--due",
               minute(now + timedelta(days=14)), "--late-credit", "1d=50", "--late-after", "reject",
               "--counts", "chosen", *by))
    late, extended, limited = students[0], students[1], students[2]
    _ok(grader("extensions", "grant", code, "hw1", extended, "--until", minute(now + timedelta(days=2)),
               "--reason", "medical note", *by))

    _refused(grader("assignments", "edit", code, "hw1", "--max-submissions", "9", "--by", ta),
             f"only instructors of {code} can change")
    _refused(grader("invites", code, "--all-without-password", "--by", ta), f"only instructors of {code} can change")
    invitations = tmp_path / "invitations.csv"
    assert f"wrote {STUDENTS + 1} invitation link(s) for {code}" in _ok(
        grader("invites", code, "--all-without-password", "--csv", str(invitations), *by))
    sent = links(invitations.read_text())
    assert set(sent) == {*students, ta}

    homework = tmp_path / "hw2.py"
    homework.write_bytes(REFERENCE)
    logged_in = {}
    for email in (late, extended, limited):
        password = f"{email} chose this"
        accept_invitation(server, sent[email], password)
        logged_in[email] = Student(server, Person(email, "", ""), tmp_path / email)
        assert logged_in[email].login(password).exit_code == 0

    submitted = _ok(logged_in[late].run("submit", str(homework), "-a", "hw1"))
    assert "graded late" in submitted
    late_submission = int(re.search(r"submission (\d+)", submitted).group(1))  # type: ignore[union-attr]
    _refused(logged_in[late].run("submit", str(homework), "-a", "hw1"),
             "this assignment takes one submission every 1 hour")
    assert "graded" in _ok(logged_in[extended].run("submit", str(homework), "-a", "hw1"))
    assert "graded" in _ok(logged_in[limited].run("submit", str(homework), "-a", "hw2"))
    _refused(logged_in[limited].run("submit", str(homework), "-a", "hw2"),
             "you have used all 1 submissions for this assignment")

    graded = _ok(grader("manual-grade", str(late_submission), "1.2.1a", str(BY_HAND), "--comment", "clear derivation",
                        "--by", ta))
    assert f"submission {late_submission} question 1.2.1a: {BY_HAND} points by {ta}" in graded
    _refused(grader("manual-grade", str(late_submission), "1.2.1a", "4", "--by", late),  # their own
             f"only instructors and TAs of {code} can grade")

    hw1 = gradebook_rows(_ok(grader("scores", "hw1", "--course", code, "--csv", "--by", ta)))
    assert len(hw1) == STUDENTS  # every student, the TA is none
    assert 24 <= float(hw1[late]["hw1 late (hours)"]) < 25
    assert (hw1[late]["hw1 raw total"], hw1[late]["hw1 credit (%)"], hw1[late]["HW1"]) == (
        str(AUTO + BY_HAND), "80", f"{(AUTO + BY_HAND) * 0.8:g}")
    assert hw1[late]["hw1 1.2.1a"] == str(BY_HAND)
    assert (hw1[extended]["hw1 late (hours)"], hw1[extended]["hw1 credit (%)"], hw1[extended]["HW1"]) == (
        "0.00", "100", str(AUTO))
    assert hw1[limited]["HW1"] == "" and hw1[limited]["hw1 raw total"] == ""
    hw2 = gradebook_rows(_ok(grader("scores", "hw2", "--course", code, "--csv", "--by", prof)))
    assert (hw2[limited]["hw2 credit (%)"], hw2[limited]["HW2"]) == ("100", str(AUTO))
    assert [email for email, row in hw2.items() if row["HW2"]] == [limited]
    totals = list(csv.reader(io.StringIO(_ok(grader("scores", "hw1", "--course", code, "--csv", "--totals", *by)))))
    assert totals[0][-1] == "HW1" and [late, f"{(AUTO + BY_HAND) * 0.8:g}"] in [[row[3], row[-1]] for row in totals]

    listed = _ok(logged_in[late].run("submissions", "-a", "hw1"))
    assert str(late_submission) in listed and "late" in listed


def log_in_as(page: Page, server: LiveServer, email: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def choose_password(page: Page, link: str, email: str, password: str) -> None:
    """Open an invitation link, choose a password: logged in, on one's assignments."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    shoot(page, "invite")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()


def new_assignment(page: Page, slug: str, title: str, due: datetime, late_credit: str = "",
                   counts: str = "last", limit: str = "") -> None:
    page.locator("summary", has_text="New assignment").click()
    page.get_by_label("Slug").fill(slug)
    page.get_by_label("Rubric folder").fill("hw2")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Due date (UTC)").fill(minute(due))
    page.get_by_label("Submission limit").fill(limit)
    page.get_by_label("Credit windows").fill(late_credit)
    page.get_by_label("Which submission counts").select_option(counts)
    page.get_by_role("button", name="Create the assignment").click()
    expect(page.locator(".notice")).to_contain_text(f"{title} ({slug}) is created.")


def test_a_course_runs_from_the_pages_alone(
    page: Page, postgres_server_app: LiveServer, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    postgres_worker: WorkerProcess,
) -> None:
    server = postgres_server_app
    tag = uuid.uuid4().hex[:8]
    code, prof = f"WEB-{tag}", f"prof-{tag}@uni.edu"
    use_stack(postgres_stack)
    with session_scope() as db:  # the instructor's account, as an admin makes it
        users.create_user(db, prof, "Ada Prof", "instructor", PROF_PASSWORD)
        db.commit()
    now = datetime.now(UTC)

    # The instructor: a course, its roster, three assignments, an extension, the invitations.
    log_in_as(page, server, prof, PROF_PASSWORD)
    page.get_by_role("link", name="Courses").click()
    page.get_by_label("Code").fill(code)
    page.get_by_label("Title").fill("Deep Learning")
    page.get_by_role("button", name="Create the course").click()
    expect(page.get_by_role("heading", name=f"{code} · Deep Learning")).to_be_visible()
    dashboard = page.url
    data, students, ta = roster_csv(tag)
    page.get_by_label("Roster file (.csv)").set_input_files({"name": "roster.csv", "mimeType": "text/csv",
                                                            "buffer": data})
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".notice")).to_contain_text(
        f"{STUDENTS + 1} enrolled, 0 changed, 0 unchanged; {STUDENTS + 1} new accounts")
    expect(page.locator("#roster-count")).to_contain_text(f"{STUDENTS + 2} people")
    new_assignment(page, "hw1", "HW1", now - timedelta(days=1), LATE, "best", "3")
    new_assignment(page, "hw2", "HW2", now + timedelta(days=7), limit="1")
    new_assignment(page, "hw3", "HW3", now + timedelta(days=14), "1d=50", "chosen")
    expect(page.locator(".progress-table tbody tr")).to_have_count(3)
    shoot(page, "course-dashboard")

    late, extended = students[0], students[1]
    page.locator("#extensions").locator("xpath=following-sibling::p[1]").get_by_role("link", name="hw1").click()
    expect(page.locator("#late-rules")).to_contain_text("up to 2d late: 80 %, up to 7d late: 50 %")
    page.get_by_label("Student").select_option(label=f"Student 001 ({extended})")
    page.get_by_label("New due date (UTC)").fill(minute(now + timedelta(days=2)))
    page.get_by_label("Reason").fill("medical note")
    page.get_by_role("button", name="Grant the extension").click()
    expect(page.locator(f'table.extensions tr[data-student="{extended}"]')).to_contain_text("medical note")

    page.goto(dashboard)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download invitation links").click()
    sent = links(Path(download.value.path()).read_text())
    assert set(sent) == {*students, ta}
    log_out(page)

    # A student comes in through the link, uploads a day late and reads the feedback.
    student_password = "my own passphrase, at last"
    choose_password(page, sent[late], late, student_password)
    expect(page.locator("header .who")).to_have_text("Student 000 (student)")
    page.locator("tr", has_text="HW1").get_by_role("link", name="Submit and see feedback").click()
    expect(page.locator("#late-rules")).to_contain_text("up to 2d late: 80 %")
    page.get_by_label("Your solution").set_input_files({"name": "hw2.py", "mimeType": "text/x-python",
                                                        "buffer": REFERENCE})
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    submission_url = page.url
    expect(page.locator("#status")).to_have_text("graded", timeout=GRADING_TIMEOUT_MS)
    # Students see neither 1.2.3d (hidden) nor the questions graded by hand yet: 34 points, 80 % of them.
    expect(page.locator("#late")).to_contain_text(f"80 % credit, {(AUTO - 3) * 0.8:g} points")
    expect(page.locator('tr[data-question="1.1a"]')).to_contain_text("1 / 1")
    expect(page.locator('tr[data-question="1.2.3d"]')).to_have_count(0)  # hidden from students
    shoot(page, "course-late-feedback")
    log_out(page)

    # The TA: in through their link, grades a question by hand, changes no setting.
    choose_password(page, sent[ta], ta, "the TA's passphrase")
    page.get_by_role("link", name="Courses").click()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("button", name="Download invitation links")).to_have_count(0)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    expect(page.locator("summary", has_text="New assignment")).to_have_count(0)
    page.locator('tr[data-assignment="hw1"]').get_by_role("link", name="Scores").click()
    hw1_scores = page.url
    page.get_by_role("link", name="Student 000").click()
    form = page.locator("form.manual-grade", has=page.locator('input[value="1.2.1a"]'))
    form.get_by_label("Score").fill(str(BY_HAND))
    form.get_by_label("Comment").fill("clear derivation")
    form.get_by_role("button", name="Save").click()
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text(f"{BY_HAND} / 4")
    settings = page.goto(hw1_scores.replace("/scores", "/settings"))
    assert settings is not None and settings.status == 403
    expect(page.locator(".error")).to_contain_text(f"only instructors of {code} can change")
    page.goto(hw1_scores)  # the error page has no header to log out from
    log_out(page)

    # The instructor: the gradebook with lateness, credit and the extension, and its CSV.
    log_in_as(page, server, prof, PROF_PASSWORD)
    page.goto(hw1_scores)
    expect(page.get_by_text(re.compile(rf"Students 1–\d+ of {STUDENTS}"))).to_be_visible()  # a page at a time
    for email in (late, extended):  # found by the page's search, wherever their page is
        page.get_by_label("Find a student").fill(email)
        page.get_by_role("button", name="Find").click()
        expect(page.locator("table.gradebook tbody tr")).to_have_count(1)
        if email == late:
            row = page.locator("table.gradebook tbody tr", has_text=late)
            expect(row.locator("td.late")).to_contain_text("1d")
            expect(row.locator("td.late")).to_contain_text("80 %")
            expect(row.locator("td.credited")).to_have_text(f"{(AUTO + BY_HAND) * 0.8:g}")
            shoot(page, "course-gradebook")
        else:
            row = page.locator("table.gradebook tbody tr", has_text=extended)
            expect(row.locator("td.late")).to_contain_text("extended")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV per question").click()
    book = gradebook_rows(Path(download.value.path()).read_text())
    assert len(book) == STUDENTS
    assert (book[late]["hw1 raw total"], book[late]["hw1 credit (%)"], book[late]["HW1"]) == (
        str(AUTO + BY_HAND), "80", f"{(AUTO + BY_HAND) * 0.8:g}")
    assert 24 <= float(book[late]["hw1 late (hours)"]) < 25
    assert book[extended]["HW1"] == ""  # extended, nothing submitted yet
    log_out(page)

    # The student logs in with the password they chose and sees the TA's grade.
    log_in_as(page, server, late, student_password)
    page.goto(submission_url)
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text(f"{BY_HAND} / 4")
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text("clear derivation")
