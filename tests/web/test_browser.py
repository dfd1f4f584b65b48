"""The pages in a real browser (Debian's Chromium driven by Playwright) against uvicorn and a real
Celery worker on the SQLite defaults (the wrong-answer groups on PostgreSQL + Redis). Screenshots
of each main page go to /tmp/grader-*.png."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from grader.rubric_spec import content_hash
from harness.samples import submission_source
from harness.variants import disguise
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE, add_manual_question, copy_rubric, set_points
from tests.web.browser import log_in, shoot
from tests.web.support import Klass, LiveServer, api, publish, upload_and_wait

GRADING_TIMEOUT_MS = 90_000
VISIBLE_QUESTIONS = 20 - 2  # HW2 hides 1.2.3d, and 1.1c.iv until the due date


@pytest.fixture
def klass(shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class graded by the SQLite stack's worker, on its own copy of the HW2 rubric."""
    return make_klass(shared_sqlite_stack, copy_rubric(shared_sqlite_stack.rubrics_dir, lambda _: None))


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
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass
) -> None:
    student = klass.students[0]
    sid = upload_and_wait(sqlite_server, student, klass.assignment_id, REFERENCE)

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

    set_points(Path(shared_sqlite_stack.rubrics_dir) / klass.rubric_id, "1.3.4", 4)
    publish(klass)
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


def test_an_instructor_reads_the_rubric_diff_publishes_and_regrades(
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass
) -> None:
    student = klass.students[0]
    upload_and_wait(sqlite_server, student, klass.assignment_id, REFERENCE)
    folder = Path(shared_sqlite_stack.rubrics_dir) / klass.rubric_id
    set_points(folder, "1.3.4", 4)
    add_manual_question(folder, "1.4", 2)
    new_version = content_hash(folder)

    log_in(page, sqlite_server, klass.instructor)
    page.get_by_role("link", name="Scores").click()
    banner = page.locator("#rubric-on-disk")
    expect(banner).to_contain_text("differs from the published one")
    expect(page.locator("table.gradebook thead")).not_to_contain_text("1.4")  # not before it is published
    banner.get_by_role("link", name="Review the changes and publish").click()
    expect(page.get_by_role("heading", name="Rubric · HW2")).to_be_visible()
    expect(page.locator("#disk-state")).to_contain_text(new_version)
    expect(page.locator('table.rubric-diff tr.points[data-question="1.3.4"]')).to_contain_text("2 → 4")
    expect(page.locator('table.rubric-diff tr.added[data-question="1.4"]')).to_contain_text("Added by hand")
    expect(page.locator("table.rubric-diff tbody tr")).to_have_count(2)
    expect(page.locator("#diff-total")).to_have_text("50 → 54")
    shoot(page, "rubric-diff")

    page.get_by_role("button", name=f"Publish version {new_version}").click()
    expect(page.locator("#published-hash")).to_have_text(new_version)
    expect(page.locator("#disk-state")).to_contain_text("nothing to publish")
    offer = page.locator("#regrade-offer")
    expect(offer).to_contain_text(f"Version {new_version} is published")
    shoot(page, "rubric-published")
    offer.get_by_role("button", name="Regrade all 1 submission(s) with it").click()
    expect(page).to_have_url(re.compile(rf"/assignments/{klass.assignment_id}/regrades/\d+$"))
    expect(page.locator("#regrade-label")).to_contain_text("(100%)", timeout=GRADING_TIMEOUT_MS)
    change = page.locator("#regrade-diff tbody tr")
    expect(change).to_have_count(1)
    expect(change.locator("td.num")).to_have_text(["37", "39"])

    page.get_by_role("link", name="Back to the scores").click()
    expect(page.locator("#rubric-on-disk")).to_have_count(0)
    expect(page.locator("table.gradebook thead")).to_contain_text("1.4")
    expect(page.locator("table.gradebook tbody tr", has_text=student.email)).to_contain_text("39")


def test_the_api_docs_render_from_local_files(page: Page, sqlite_server: LiveServer) -> None:
    page.goto(f"{sqlite_server.url}/docs")
    expect(page.get_by_role("heading", name="DL autograder")).to_be_visible()
    expect(page.get_by_text("/api/assignments/{assignment_id}/submissions").first).to_be_visible()
    shoot(page, "docs")


def test_an_instructor_runs_a_course_from_its_dashboard(
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    instructor = make_klass(shared_sqlite_stack).instructor  # an instructor's account; the course is made here
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
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, max_submissions=3, cooldown_s=600)
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
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess,
    make_klass: Callable[..., Klass],
) -> None:
    klass = make_klass(shared_sqlite_stack, copy_rubric(shared_sqlite_stack.rubrics_dir, lambda _: None),
                       due_at=datetime.now(UTC) - timedelta(hours=36))
    student = klass.students[0]
    upload_and_wait(sqlite_server, student, klass.assignment_id, REFERENCE)

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


# Student code that would run in the page, were it not escaped, inside code both files share.
HTML_IN_CODE = '''

def describe():
    # <img src=x onerror="window.__pwned = 1"><b id="student-html">bold</b>
    return "<script>window.__pwned = 2</script>" + str(conv_output_size(5, 3))
'''


def test_an_instructor_compares_submissions_and_sees_the_shared_code_side_by_side(
    page: Page, postgres_server_app: LiveServer, postgres_klass: Klass
) -> None:
    server, klass = postgres_server_app, postgres_klass
    original = submission_source("correct_vectorised")[1] + HTML_IN_CODE
    for student, text in zip(klass.students, (original, disguise(original, 9)), strict=True):
        with api(server, student) as client:
            url = f"/assignments/{klass.assignment_id}/submissions"
            assert client.post(url, files={"file": ("hw2.py", text.encode())}).status_code == 202

    log_in(page, server, klass.instructor)
    page.get_by_role("link", name="Scores").click()
    page.get_by_role("link", name="Similarity").click()
    expect(page.get_by_role("heading", name="Similarity · HW2")).to_be_visible()
    page.get_by_label("Threshold").fill("0.6")
    page.get_by_role("button", name="Compare the submissions").click()
    expect(page).to_have_url(re.compile(r"/similarity/\d+$"))
    expect(page.locator("#similarity-status")).to_contain_text("finished", timeout=GRADING_TIMEOUT_MS)
    rows = page.locator("table.similarity-pairs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(klass.students[0].email)
    expect(rows).to_contain_text(klass.students[1].email)
    shoot(page, "similarity-run")

    rows.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/similarity/pairs/\d+$"))
    sides = page.locator(".side-by-side .side")
    expect(sides).to_have_count(2)
    for side in ("a", "b"):
        code = page.locator(f'[data-side="{side}"] pre.code')
        expect(code.locator("mark").first).to_be_visible()
        expect(code.locator("mark", has_text="torch.einsum(").first).to_be_visible()
        expect(code).to_contain_text('<b id="student-html">bold</b>')
        expect(code).to_contain_text("<script>window.__pwned = 2</script>")
    left = page.locator('[data-side="a"] pre.code').inner_text()
    assert left == original  # the whole file, in order: the marks only wrap parts of it
    assert page.locator("#student-html").count() == 0 and page.locator("pre script, pre img").count() == 0
    assert page.evaluate("window.__pwned") is None
    shoot(page, "similarity-pair")


@pytest.fixture
def postgres_klass(postgres_stack: Stack, postgres_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class graded by the session's PostgreSQL worker, on its own copy of the HW2 rubric."""
    return make_klass(postgres_stack, copy_rubric(postgres_stack.rubrics_dir, lambda _: None))


def test_an_instructor_answers_a_wrong_answer_group_and_its_students_read_it(
    page: Page, postgres_server_app: LiveServer, postgres_klass: Klass
) -> None:
    server, klass = postgres_server_app, postgres_klass
    no_padding = submission_source("buggy_conv_size_no_padding")[1].encode()
    sids = []
    for student in klass.students:  # the same mistake twice
        sids.append(upload_and_wait(server, student, klass.assignment_id, no_padding))

    log_in(page, server, klass.instructor)
    page.get_by_role("link", name="Scores").click()
    page.get_by_role("link", name="Wrong-answer groups").click()
    expect(page.get_by_role("heading", name="Wrong-answer groups · HW2")).to_be_visible()
    groups = page.locator("tr.group")
    expect(groups.first).to_be_visible()
    expect(groups.locator(".size")).to_have_text(["2"] * groups.count())
    row = page.locator('tr.group[data-function="conv_output_size"]').first
    expect(row.locator(".mistake")).to_have_text("size-no-padding")
    for student in klass.students:
        expect(row.locator(".members")).to_contain_text(student.name)
    note = "Padding adds P zeros at both ends of the input."
    row.get_by_label("Feedback for this group").fill(note)
    row.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{server.url}/assignments/{klass.assignment_id}/groups")
    row = page.locator('tr.group[data-function="conv_output_size"]').first
    expect(row.get_by_label("Feedback for this group")).to_have_value(note)
    expect(row.get_by_role("button", name="Remove")).to_be_visible()
    shoot(page, "groups")

    page.get_by_role("button", name="Log out").click()
    first, second = klass.students
    log_in(page, server, first)
    page.goto(f"{server.url}/submissions/{sids[0]}")
    expect(page.locator('tr[data-question="1.1b"] .group-note')).to_contain_text(note)
    expect(page.locator(".group-note")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text(second.name)
    shoot(page, "group-feedback")
