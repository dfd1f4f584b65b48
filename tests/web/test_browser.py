"""The pages in a real browser (Debian's Chromium driven by Playwright) against uvicorn and a real
Celery worker on the SQLite defaults. Screenshots of each main page go to /tmp/grader-*.png."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import REFERENCE, copy_rubric, set_points
from tests.web.browser import log_in, shoot
from tests.web.support import Klass, LiveServer, api

GRADING_TIMEOUT_MS = 90_000
VISIBLE_QUESTIONS = 20 - 2  # HW2 hides 1.2.3d, and 1.1c.iv until the due date


@pytest.fixture
def klass(sqlite_web_stack: Stack, sqlite_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class graded by the SQLite stack's worker, on its own copy of the HW2 rubric."""
    return make_klass(sqlite_web_stack, copy_rubric(sqlite_web_stack.rubrics_dir, lambda _: None))


def test_a_student_uploads_through_the_form_and_watches_it_get_graded(
    page: Page, sqlite_server: LiveServer, klass: Klass
) -> None:
    page.goto(f"{sqlite_server.url}/login")
    shoot(page, "login")
    log_in(page, sqlite_server, klass.students[0])
    page.get_by_role("link", name="Submit and see feedback").click()
    expect(page.get_by_role("heading", name="HW2")).to_be_visible()
    shoot(page, "upload")

    upload = {"name": "hw2.py", "mimeType": "text/x-python", "buffer": REFERENCE}
    page.get_by_label("Your solution").set_input_files(upload)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.locator("#status")).to_have_text("graded", timeout=GRADING_TIMEOUT_MS)
    rows = page.locator("table.questions tbody tr")
    expect(rows).to_have_count(VISIBLE_QUESTIONS)
    expect(page.locator('tr[data-question="1.1a"]')).to_contain_text("1 / 1")
    expect(page.locator('tr[data-question="1.2.3d"]')).to_have_count(0)
    shoot(page, "feedback")


def test_an_instructor_reviews_grades_by_hand_and_regrades(
    page: Page, sqlite_server: LiveServer, sqlite_web_stack: Stack, klass: Klass
) -> None:
    student = klass.students[0]
    with api(sqlite_server, student) as client:
        url = f"/assignments/{klass.assignment_id}/submissions"
        sid = client.post(url, files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        wait_until(lambda: client.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded",
                   GRADING_TIMEOUT_MS / 1000, "the upload to be graded", interval=0.5)

    log_in(page, sqlite_server, klass.instructor)
    page.get_by_role("link", name="Scores").click()
    expect(page.get_by_role("heading", name="Scores · HW2")).to_be_visible()
    expect(page.locator(".stat svg rect")).to_have_count(20 * 10)
    student_row = page.locator("table.gradebook tbody tr", has_text=student.email)
    expect(student_row).to_contain_text("37")
    shoot(page, "scores")

    page.get_by_role("link", name=student.name).click()
    expect(page.get_by_role("heading", name=f"Submission {sid}")).to_be_visible()
    expect(page.locator('tr[data-question="1.2.3d"]')).to_contain_text("3 / 3")
    expect(page.locator("table", has_text="Rubric hash").locator("tbody tr")).to_have_count(1)
    form = page.locator("form.manual-grade", has=page.locator('input[value="1.2.1a"]'))
    form.get_by_label("Score").fill("3.5")
    form.get_by_label("Comment").fill("clear diagram")
    form.get_by_role("button", name="Save").click()
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text("3.5 / 4")
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text("clear diagram")
    shoot(page, "submission")

    set_points(Path(sqlite_web_stack.rubrics_dir) / klass.rubric_id, "1.3.4", 4)
    page.get_by_label("Reason").fill("1.3.4 is worth 4 points")
    page.get_by_role("button", name="Regrade this submission").click()
    expect(page).to_have_url(re.compile(rf"/assignments/{klass.assignment_id}/regrades/\d+$"))
    expect(page.locator("#regrade-label")).to_contain_text("(100%)", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator(".progress > div")).to_have_attribute("style", "width: 100%;")
    change = page.locator("#regrade-diff tbody tr")
    expect(change).to_have_count(1)
    expect(change).to_contain_text(student.email)
    expect(change.locator("td.num")).to_have_text(["37", "39"])
    shoot(page, "regrade")


def test_the_api_docs_render_from_local_files(page: Page, sqlite_server: LiveServer) -> None:
    page.goto(f"{sqlite_server.url}/docs")
    expect(page.get_by_role("heading", name="DL autograder")).to_be_visible()
    expect(page.get_by_text("/api/assignments/{assignment_id}/submissions").first).to_be_visible()
    shoot(page, "docs")


def test_an_instructor_runs_a_course_from_its_dashboard(
    page: Page, sqlite_server: LiveServer, sqlite_web_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    instructor = make_klass(sqlite_web_stack).instructor  # an instructor's account; the course is made here
    code = f"RUN-{uuid.uuid4().hex[:6]}"
    roster_csv = "email,name,role\n" + f"ta-{code}@uni.edu,Tara Assistant,ta\n" + "".join(
        f"s{i:02d}-{code}@uni.edu,Student {i:02d},\n" for i in range(60))
    log_in(page, sqlite_server, instructor)
    page.get_by_role("link", name="Courses").click()
    page.get_by_label("Code").fill(code)
    page.get_by_label("Title").fill("Deep learning, spring")
    page.get_by_role("button", name="Create the course").click()
    expect(page.get_by_role("heading", name=f"{code} · Deep learning, spring")).to_be_visible()

    page.get_by_label("Roster file (.csv)").set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": roster_csv.encode()})
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".notice")).to_contain_text("61 enrolled, 0 changed, 0 unchanged; 61 new accounts")
    expect(page.locator("#roster-count")).to_contain_text("62 people")
    rows = page.locator("#roster-table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.nth(1)).to_contain_text("Tara Assistant")  # staff first
    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(12)

    page.locator("summary", has_text="New assignment").click()
    page.get_by_label("Slug").fill("hw2")
    page.get_by_label("Rubric folder").fill("hw2")
    page.get_by_label("Submission limit").fill("3")
    page.get_by_label("Cooldown").fill("300")
    page.get_by_role("button", name="Create the assignment").click()
    assignment = page.locator('tr[data-assignment="hw2"]')
    expect(assignment).to_contain_text("HW2: convolutions")
    expect(assignment.locator("td.num")).to_have_text(["3", "5 minutes", "0", "0", "0", "0", "0"])
    shoot(page, "course")

    assignment.get_by_role("link", name="Settings").click()
    page.get_by_label("Submission limit").fill("5")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.locator(".notice")).to_contain_text("settings saved")
    expect(assignment.locator("td.num").first).to_have_text("5")


def test_a_student_sees_what_is_left_and_waits_out_the_cooldown(
    page: Page, sqlite_server: LiveServer, sqlite_web_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(sqlite_web_stack, max_submissions=3, cooldown_s=600)
    log_in(page, sqlite_server, klass.students[0])
    page.get_by_role("link", name="Submit and see feedback").click()
    expect(page.locator("#allowance")).to_contain_text("3 of 3 submissions left")
    expect(page.locator("#allowance")).to_contain_text("one submission every 10 minutes")
    page.get_by_label("Your solution").set_input_files({"name": "hw2.py", "mimeType": "text/x-python",
                                                        "buffer": REFERENCE})
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    page.goto(f"{sqlite_server.url}/assignments/{klass.assignment_id}")
    expect(page.locator("#allowance")).to_contain_text("2 of 3 submissions left")
    expect(page.locator("#cooldown")).to_contain_text("You can submit again at")
    expect(page.get_by_role("button", name="Submit for grading")).to_be_disabled()
    shoot(page, "cooldown")
def test_an_instructor_sets_late_credit_grants_an_extension_and_reads_the_late_column(
    page: Page, sqlite_server: LiveServer, sqlite_web_stack: Stack, sqlite_worker: WorkerProcess,
    make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(sqlite_web_stack, copy_rubric(sqlite_web_stack.rubrics_dir, lambda _: None),
                       due_at=datetime.now(UTC) - timedelta(hours=36))
    student = klass.students[0]
    with api(sqlite_server, student) as client:
        url = f"/assignments/{klass.assignment_id}/submissions"
        sid = client.post(url, files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        wait_until(lambda: client.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded",
                   GRADING_TIMEOUT_MS / 1000, "the upload to be graded", interval=0.5)

    log_in(page, sqlite_server, klass.instructor)
    page.get_by_role("link", name="Scores").click()
    row = page.locator("table.gradebook tbody tr", has_text=student.email)
    expect(row.locator("td.late")).to_contain_text("1d 12h · 100 %")
    expect(row.locator("td.credited")).to_have_text("37")

    page.get_by_role("link", name="Late rules and extensions").click()
    page.get_by_label("Credit windows").fill("2d=eighty")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("alert")).to_contain_text("'eighty' in '2d=eighty' is not a credit")
    page.get_by_label("Credit windows").fill("2d=80,7d=50")
    page.get_by_label("After the last window").select_option("zero")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.locator("#late-rules")).to_contain_text("up to 2d late: 80 %, up to 7d late: 50 %, then 0 %")
    page.get_by_role("link", name="Scores").click()
    expect(row.locator("td.late")).to_contain_text("1d 12h · 80 %")
    expect(row.locator("td.credited")).to_have_text("29.6")

    page.get_by_role("link", name="Late rules and extensions").click()
    page.get_by_label("Student").select_option(label=f"{student.name} ({student.email})")
    page.get_by_label("New due date (UTC)").fill(f"{datetime.now(UTC) + timedelta(days=1):%Y-%m-%dT%H:%M}")
    page.get_by_label("Reason").fill("medical note")
    page.get_by_role("button", name="Grant the extension").click()
    extension = page.locator("table.extensions tbody tr", has_text=student.email)
    expect(extension).to_contain_text("medical note")
    shoot(page, "late")
    page.get_by_role("link", name="Scores").click()
    expect(row.locator("td.late")).to_contain_text("extended")
    expect(row.locator("td.credited")).to_have_text("37")
    shoot(page, "scores-late")

    page.get_by_role("link", name="Late rules and extensions").click()
    extension.get_by_role("button", name="Revoke").click()
    expect(page.locator("table.extensions")).to_have_count(0)
