"""The submission pages, graded by a real Celery worker on the SQLite defaults: a notebook shown as
cells (markdown rendered inert, code numbered as the feedback numbers it), failures grouped with
how many share a message, an import error said once, a refused manual grade shown in its form,
and a student's list of submissions with their scores, also while a regrade is under way."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from grader.db.models import Assignment, User
from grader.db.session import session_scope
from grader.services import regrades
from grader.services.run_errors import COULD_NOT_RUN
from harness.samples import SUBMISSIONS
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE, copy_rubric, set_points
from tests.web.browser import log_in, shoot
from tests.web.support import Klass, LiveServer, api, page_session, publish, upload_and_wait

ONE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PWNED = "window.__pwned"  # what every attack below tries to set

HOSTILE_MARKDOWN = f"""## Answers <script>{PWNED} = "script"</script>

<img src=x onerror="{PWNED} = 'img'"> <iframe src="http://evil.example/"></iframe>

[run me](javascript:{PWNED}='link') and [the docs](https://pytorch.org/docs/)

![tracker](http://evil.example/pixel.png) ![diagram](attachment:diagram.png) ![fake](attachment:fake.png)
"""
HOSTILE_OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": f"</pre><script>{PWNED} = 'stream'</script>"},
    {"output_type": "display_data", "metadata": {},
     "data": {"text/html": f"<script>{PWNED} = 'html'</script>", "text/plain": "<b>plain</b>",
              "image/svg+xml": f"<svg onload=\"{PWNED} = 'svg'\"></svg>"}},
    {"output_type": "display_data", "metadata": {}, "data": {"image/png": base64.b64encode(ONE_PIXEL_PNG).decode()}},
]
# 1.1b has 8 checks: 4 of conv_output_size (right) and 4 of conv2d_output_shape, which now fail alike.
UNFINISHED = [
    "def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):\n",
    '    """Not finished yet."""\n',
    f"    raise ValueError(\"not finished </pre><script>{PWNED} = 'feedback'</script>\")\n",
]


def hostile_notebook() -> bytes:
    """The correct sample notebook, then an attacking markdown cell, a code cell whose saved outputs
    attack, and a last cell that redefines conv2d_output_shape to raise at its third line."""
    notebook = json.loads((SUBMISSIONS / "correct_notebook.ipynb").read_text())
    svg_as_png = base64.b64encode(f"<svg onload=\"{PWNED} = 'fake'\"/>".encode()).decode()
    notebook["cells"] += [
        {"cell_type": "markdown", "metadata": {}, "source": HOSTILE_MARKDOWN,
         "attachments": {"diagram.png": {"image/png": base64.b64encode(ONE_PIXEL_PNG).decode()},
                         "fake.png": {"image/png": svg_as_png}}},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "print('saved output')",
         "outputs": HOSTILE_OUTPUTS},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": UNFINISHED, "outputs": []},
    ]
    return json.dumps(notebook).encode()


@pytest.fixture
def klass(shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class graded by the SQLite stack's worker, on its own copy of the HW2 rubric."""
    return make_klass(shared_sqlite_stack, copy_rubric(shared_sqlite_stack.rubrics_dir, lambda _: None))


def test_a_notebook_shows_as_cells_numbered_like_its_feedback_and_nothing_in_it_runs(
    page: Page, sqlite_server: LiveServer, klass: Klass
) -> None:
    sid = upload_and_wait(sqlite_server, klass.students[0], klass.assignment_id, hostile_notebook(), "hw2.ipynb")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, sqlite_server, klass.instructor)
    response = page.goto(f"{sqlite_server.url}/submissions/{sid}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]

    # Failures that share a message are one line that says how many more share it.
    row = page.locator('tr[data-question="1.1b"]')
    expect(row).to_contain_text("4 of 8 checks passed.")
    expect(row).to_contain_text("(and 3 more with the same message)")

    # "line N of hw2.py" in the feedback is line N on the page: the raise in the last cell.
    match = re.search(r"line (\d+) of hw2\.py", row.inner_text())
    assert match, row.inner_text()
    line = page.locator(f"#line-{match.group(1)}")
    expect(line).to_have_text(UNFINISHED[2].rstrip("\n"))
    row.get_by_role("link", name=match.group(0)).click()  # the feedback links to that line
    expect(page).to_have_url(re.compile(rf"#line-{match.group(1)}$"))
    expect(line).to_be_in_viewport()
    last_cell = page.locator(".code-cell").last
    expect(last_cell.locator(f"#line-{match.group(1)}")).to_have_count(1)
    expect(last_cell.locator(".line").first).to_have_text(UNFINISHED[0].rstrip("\n"))

    # Markdown renders, as text only: no script, frame or handler of the student's, no image
    # from elsewhere, no javascript: link; the one attachment that is a real PNG is shown.
    answers = page.locator(".markdown-cell h2", has_text="Answers")
    expect(answers).to_contain_text("<script>")
    expect(page.locator("main script")).to_have_count(0)
    expect(page.locator("iframe")).to_have_count(0)
    images = page.locator(".markdown-cell img")
    expect(images).to_have_count(1)
    expect(images).to_have_attribute("alt", "diagram")
    assert (images.get_attribute("src") or "").startswith("data:image/png;base64,")
    links = page.locator(".markdown-cell a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://pytorch.org/docs/")
    expect(links).to_have_attribute("rel", "nofollow noopener noreferrer")
    expect(page.locator(".markdown-cell", has_text="Answers")).to_contain_text("[image: tracker]")

    # Saved outputs: text as text, the PNG as an image, never HTML or SVG.
    outputs = page.locator(".code-cell", has_text="saved output").locator(".output")
    expect(outputs).to_have_count(3)
    expect(outputs.nth(0)).to_contain_text("</pre><script>")
    expect(outputs.nth(1)).to_have_text("<b>plain</b>")
    expect(outputs.nth(2).locator("img")).to_have_count(1)
    shoot(page, "notebook")

    assert page.evaluate(f"() => {PWNED} === undefined") and dialogs == []


def test_an_import_error_is_said_once_and_the_questions_say_they_could_not_run(
    sqlite_server: LiveServer, klass: Klass
) -> None:
    broken = REFERENCE + b"\nraise RuntimeError('broken at import')\n"
    sid = upload_and_wait(sqlite_server, klass.students[0], klass.assignment_id, broken)

    with api(sqlite_server, klass.students[0]) as client:
        seen = client.get(f"/submissions/{sid}").json()["feedback"]
    assert "broken at import" in seen["error"]
    auto = [q for q in seen["questions"] if q["grading"] == "auto"]
    assert auto and all(q["feedback"] == COULD_NOT_RUN for q in auto)

    with page_session(sqlite_server, klass.students[0]) as student:
        page = student.get(f"/submissions/{sid}").text
    assert page.count("broken at import") == 1
    assert re.search(r'<p class="error" id="error">[^<]*broken at import', page)
    assert page.count(COULD_NOT_RUN) == len(auto)

    with page_session(sqlite_server, klass.instructor) as instructor:
        staff_page = instructor.get(f"/submissions/{sid}").text
    feedback_part = staff_page.split('<h2 id="code">')[0]  # the code below it holds the raise itself
    assert feedback_part.count("broken at import") == 1 and COULD_NOT_RUN in feedback_part


def test_a_refused_manual_grade_comes_back_in_its_form_with_the_reason(
    page: Page, sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass
) -> None:
    sid = upload_and_wait(sqlite_server, klass.students[0], klass.assignment_id, REFERENCE)
    log_in(page, sqlite_server, klass.instructor)
    page.goto(f"{sqlite_server.url}/submissions/{sid}")
    form = page.locator("form.manual-grade", has=page.locator('input[value="1.2.1a"]'))

    # The published rubric now says 2 points, the open page still 4: the browser lets 3 through, the server refuses.
    set_points(Path(shared_sqlite_stack.rubrics_dir) / klass.rubric_id, "1.2.1a", 2)
    publish(klass)
    form.get_by_label("Score").fill("3")
    form.get_by_label("Comment").fill("clear diagram, <b>one</b> arrow missing")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="Save").click()
    assert posted.value.status == 422

    expect(page.get_by_role("heading", name=f"Submission {sid}")).to_be_visible()
    form = page.locator("form.manual-grade", has=page.locator('input[value="1.2.1a"]'))
    expect(form.get_by_role("alert")).to_contain_text("worth 0 to 2 points, not 3")
    expect(form.get_by_label("Score")).to_have_value("3")
    expect(form.get_by_label("Score")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Comment")).to_have_value("clear diagram, <b>one</b> arrow missing")
    expect(page.locator("form.manual-grade .field-error")).to_have_count(1)  # only the refused form says so
    shoot(page, "manual-grade-refused")

    form.get_by_label("Score").fill("2")
    form.get_by_role("button", name="Save").click()
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text("2 / 2")
    expect(page.locator('tr[data-question="1.2.1a"]')).to_contain_text("one</b> arrow missing")


@pytest.mark.parametrize("score, reason", [("abc", "must be a number"), ("", "enter a score"),
                                           ("inf", "finite number"), ("-1", "worth 0 to 4 points")])
def test_a_manual_grade_that_is_no_score_is_refused_on_the_page(
    sqlite_server: LiveServer, make_klass: Callable[..., Klass], shared_sqlite_stack: Stack, score: str, reason: str
) -> None:
    klass = make_klass(shared_sqlite_stack)
    with api(sqlite_server, klass.students[0]) as client:
        sid = client.post(f"/assignments/{klass.assignment_id}/submissions",
                          files={"file": ("hw2.py", REFERENCE)}).json()["id"]
    with page_session(sqlite_server, klass.instructor) as instructor:
        token = instructor.csrf_token(f"/submissions/{sid}")
        answer = instructor.post(f"/submissions/{sid}/manual-grades", data={
            "csrf_token": token, "question_id": "1.2.1a", "score": score, "comment": "kept"})
    assert answer.status_code == 422 and reason in answer.text
    assert f'value="{score}"' in answer.text and 'value="kept"' in answer.text
    assert 'aria-invalid="true"' in answer.text and f"Submission {sid}" in answer.text


def _history_row(client: httpx.Client, assignment_id: int, sid: int) -> str:
    page = client.get(f"/assignments/{assignment_id}").text
    match = re.search(rf'<tr data-submission="{sid}">(.*?)</tr>', page, re.S)
    assert match, page
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_a_student_sees_each_submissions_score_and_regrading_while_it_is_graded_again(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass, use_stack: Callable[[Stack], None],
    tmp_path: Path
) -> None:
    student = klass.students[0]
    sid = upload_and_wait(sqlite_server, student, klass.assignment_id, REFERENCE)
    with api(sqlite_server, student) as client:
        seen = client.get(f"/submissions/{sid}").json()["feedback"]
    score = f"{seen['score']:g} / {seen['max_score']:g}"

    with page_session(sqlite_server, student) as pages:
        assert f"graded {score} on time counts" in _history_row(pages, klass.assignment_id, sid)

        # A regrade whose task no worker will take: the submission stays queued for it.
        use_stack(shared_sqlite_stack.with_broker(f"sqla+sqlite:///{tmp_path / 'nobody-listens.db'}"))
        with session_scope() as db:
            instructor = db.scalars(select(User).where(User.email == klass.instructor.email)).one()
            regrades.start_regrade(db, instructor, db.get(Assignment, klass.assignment_id), "a fix", [sid])
            db.commit()

        assert f"regrading {score} on time counts" in _history_row(pages, klass.assignment_id, sid)
        page = pages.get(f"/submissions/{sid}").text
    assert re.search(r'id="status">regrading<', page) and f"<strong>{score}</strong>" in page
    with page_session(sqlite_server, klass.instructor) as instructor:
        scores = instructor.get(f"/assignments/{klass.assignment_id}/scores").text
    row = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(student.email)}.*?</tr>", scores, re.S)
    assert row and "status-regrading" in row.group(0)
