"""Pages without a browser: login sessions, CSRF on every form, who may open which page, what they show."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from grader.rubric_spec import content_hash
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import REFERENCE, WRONG_CONV2D, new_version, set_points
from tests.web.support import PASSWORD, Klass, LiveServer, Person, api, http_client, upload_and_wait

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


def browser(server: LiveServer) -> httpx.Client:
    return http_client(server.url)


def log_in(client: httpx.Client, person: Person) -> httpx.Response:
    token = _csrf(client.get("/login"))
    return client.post("/login", data={"email": person.email, "password": PASSWORD, "csrf_token": token})


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack)


def test_pages_need_a_login_and_come_back_after_it(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        first = client.get(f"/assignments/{klass.assignment_id}")
        assert first.status_code == 303
        assert first.headers["location"] == f"/login?next=/assignments/{klass.assignment_id}"
        token = _csrf(client.get(first.headers["location"]))
        login = client.post("/login", data={"email": klass.students[0].email, "password": PASSWORD,
                                            "csrf_token": token, "next": f"/assignments/{klass.assignment_id}"})
        assert login.status_code == 303 and login.headers["location"] == f"/assignments/{klass.assignment_id}"
        assert "Upload" in client.get(login.headers["location"]).text


def test_a_wrong_password_shows_the_form_again(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        token = _csrf(client.get("/login"))
        page = client.post("/login", data={"email": klass.students[0].email, "password": "nope", "csrf_token": token})
    assert page.status_code == 401 and "Wrong email or password" in page.text


def test_login_never_redirects_off_site(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        token = _csrf(client.get("/login"))
        login = client.post("/login", data={"email": klass.students[0].email, "password": PASSWORD,
                                            "csrf_token": token, "next": "//evil.example/"})
    assert login.headers["location"] == "/"


def test_every_form_post_needs_the_sessions_csrf_token(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        no_token = client.post("/login", data={"email": klass.students[0].email, "password": PASSWORD})
        assert no_token.status_code == 403 and "reload the page" in no_token.text
        log_in(client, klass.students[0])
        url = f"/assignments/{klass.assignment_id}/submissions"
        forged = client.post(url, data={"csrf_token": "forged"}, files={"file": ("hw2.py", REFERENCE)})
        assert forged.status_code == 403
        assert client.post("/logout").status_code == 403
    with api(sqlite_server, klass.students[0]) as student:
        assert student.get("/submissions").json() == []


def test_the_session_cookie_reads_the_api_but_cannot_write_to_it(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        log_in(client, klass.students[0])
        assert client.get("/api/auth/me").json()["email"] == klass.students[0].email
        url = f"/api/assignments/{klass.assignment_id}/submissions"
        assert client.post(url, files={"file": ("hw2.py", REFERENCE)}).status_code == 401


def test_an_upload_through_the_form_lands_on_its_feedback_page(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        log_in(client, klass.students[0])
        form = client.get(f"/assignments/{klass.assignment_id}")
        done = client.post(f"/assignments/{klass.assignment_id}/submissions", data={"csrf_token": _csrf(form)},
                           files={"file": ("hw2.py", REFERENCE)})
        assert done.status_code == 303 and done.headers["location"].startswith("/submissions/")
        page = client.get(done.headers["location"])
    assert "queued" in page.text and 'http-equiv="refresh"' in page.text


def test_a_bad_upload_through_the_form_shows_why(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        log_in(client, klass.students[0])
        form = client.get(f"/assignments/{klass.assignment_id}")
        page = client.post(f"/assignments/{klass.assignment_id}/submissions", data={"csrf_token": _csrf(form)},
                           files={"file": ("notes.txt", b"hello")})
    assert page.status_code == 415
    assert "upload a .py file or a .ipynb notebook" in page.text and "Nothing submitted yet" in page.text


def test_an_upload_past_the_limit_through_the_form_shows_why_and_is_not_stored(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    """The refused upload's row was written before it was counted: the page that says so is a normal
    answer, and its transaction must not keep that row."""
    klass = make_klass(shared_sqlite_stack, max_submissions=1)
    student = klass.students[0]
    with browser(sqlite_server) as client:
        log_in(client, student)
        for status in (303, 429):
            form = client.get(f"/assignments/{klass.assignment_id}")
            page = client.post(f"/assignments/{klass.assignment_id}/submissions", data={"csrf_token": _csrf(form)},
                               files={"file": ("hw2.py", REFERENCE)})
            assert page.status_code == status, page.text[:300]
    assert "used all 1 submissions" in page.text
    with api(sqlite_server, student) as client:
        stored = client.get("/submissions", params={"assignment_id": klass.assignment_id}).json()
    assert len(stored) == 1


def test_students_cannot_open_instructor_pages(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        log_in(client, klass.students[0])
        page = client.get(f"/assignments/{klass.assignment_id}/scores")
    assert page.status_code == 403 and "only instructors" in page.text


def test_instructors_land_on_the_scores_page(sqlite_server: LiveServer, klass: Klass) -> None:
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        home = client.get("/")
        assert f'href="/assignments/{klass.assignment_id}/scores"' in home.text
        scores = client.get(f"/assignments/{klass.assignment_id}", follow_redirects=True)
    assert scores.status_code == 200 and "<svg" in scores.text and klass.students[1].name in scores.text


def test_the_regrade_form_explains_bad_filters(sqlite_server: LiveServer, klass: Klass) -> None:
    url = f"/assignments/{klass.assignment_id}/regrades"
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        token = _csrf(client.get(f"/assignments/{klass.assignment_id}/scores"))
        bad_ids = client.post(url, data={"csrf_token": token, "submission_ids": "12, twelve"})
        assert bad_ids.status_code == 422 and "numbers separated by commas" in bad_ids.text
        bad_date = client.post(url, data={"csrf_token": token, "since": "yesterday"})
        assert bad_date.status_code == 422 and "not a date and time" in bad_date.text
        nothing = client.post(url, data={"csrf_token": token, "since": "2999-01-01T00:00"})
        assert nothing.status_code == 409 and "nothing to regrade" in nothing.text


def test_a_regrade_page_opens_only_under_its_own_assignment(sqlite_server: LiveServer, klass: Klass) -> None:
    with api(sqlite_server, klass.students[0]) as student:
        uploaded = student.post(f"/assignments/{klass.assignment_id}/submissions",
                                files={"file": ("hw2.py", REFERENCE)})
        assert uploaded.status_code == 202, uploaded.text
    with api(sqlite_server, klass.instructor) as prof:
        other = prof.post(f"/courses/{klass.course_id}/assignments", json={"slug": "hw2-again", "rubric_id": "hw2"})
        assert other.status_code == 201, other.text
        batch = prof.post(f"/assignments/{klass.assignment_id}/regrades", json={"reason": "pages"})
        assert batch.status_code == 202, batch.text
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        own = client.get(f"/assignments/{klass.assignment_id}/regrades/{batch.json()['id']}")
        elsewhere = client.get(f"/assignments/{other.json()['id']}/regrades/{batch.json()['id']}")
    assert own.status_code == 200 and f"Regrade {batch.json()['id']}" in own.text
    assert elsewhere.status_code == 404  # not another assignment's progress under this one's title


def test_publishing_a_rubric_version_other_than_the_one_shown_is_refused(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, new_version(shared_sqlite_stack.rubrics_dir))
    folder = shared_sqlite_stack.rubrics_dir / klass.rubric_id
    url = f"/assignments/{klass.assignment_id}/rubric"
    set_points(folder, "1.1a", 2)
    with browser(sqlite_server) as client:
        log_in(client, klass.students[0])
        assert client.get(url).status_code == 403
        log_in(client, klass.instructor)
        page = client.get(url)
        assert page.status_code == 200 and "1 → 2" in page.text
        shown = re.search(r'name="expected_hash" value="([0-9a-f]+)"', page.text)
        assert shown is not None
        set_points(folder, "1.1a", 3)  # changed again after the diff was shown
        refused = client.post(url, data={"csrf_token": _csrf(page), "expected_hash": shown.group(1)})
        assert refused.status_code == 409 and "review the changes again" in refused.text
        assert "1 → 3" in refused.text  # the diff as the folder is now
        published = client.post(url, data={"csrf_token": _csrf(page), "expected_hash": content_hash(folder)})
        assert published.status_code == 303
        assert published.headers["location"] == f"{url}?published={content_hash(folder)}"


def _row(page: httpx.Response, question_id: str) -> str:
    match = re.search(rf'<tr id="q-{re.escape(question_id)}".*?</tr>', page.text, re.S)
    assert match, f"no row for {question_id}"
    return match.group(0)


def test_overrides_show_the_tests_feedback_and_grades_by_hand_follow_a_resubmission(
    sqlite_server: LiveServer, shared_sqlite_worker: WorkerProcess, klass: Klass
) -> None:
    student = klass.students[0]
    first = upload_and_wait(sqlite_server, student, klass.assignment_id, WRONG_CONV2D)
    with api(sqlite_server, klass.instructor) as prof:
        for question, score, comment in (("1.1a", 0.5, "right idea"), ("1.2.1a", 3, "neat diagram")):
            body = {"score": score, "comment": comment}
            graded = prof.put(f"/submissions/{first}/manual-grades/{question}", json=body)
            assert graded.status_code == 200, graded.text
        shown = {q["question_id"]: q for q in prof.get(f"/submissions/{first}").json()["feedback"]["questions"]}
    assert (shown["1.1a"]["score"], shown["1.1a"]["auto_score"], shown["1.1a"]["source"]) == (0.5, 0, "manual")
    with browser(sqlite_server) as client:
        log_in(client, student)
        override = _row(client.get(f"/submissions/{first}"), "1.1a")
    assert "0.5 / 1" in override and "right idea" in override and "the tests gave 0" in override
    assert "expected 8, got 0" in override  # the tests' feedback, under the instructor's score

    second = upload_and_wait(sqlite_server, student, klass.assignment_id, REFERENCE)
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        scores = client.get(f"/assignments/{klass.assignment_id}/scores")
        assert "3†" in scores.text and f"graded by hand on submission {first}" in scores.text
        page = client.get(f"/submissions/{second}")
        assert f"graded by hand on an earlier submission ({first})" in _row(page, "1.2.1a")
        assert "Set by hand to 0.5 on submission" in _row(page, "1.1a")  # shown, not applied: 1 / 1 stands
        assert "1 / 1" in _row(page, "1.1a") and ">Confirm</button>" in page.text
        confirmed = client.post(f"/submissions/{second}/manual-grades", data={
            "csrf_token": _csrf(page), "question_id": "1.2.1a", "score": "3", "comment": "neat diagram"})
        assert confirmed.status_code == 303
        assert "3†" not in client.get(f"/assignments/{klass.assignment_id}/scores").text


def test_an_override_given_by_mistake_is_removed_and_the_tests_score_counts_again(
    sqlite_server: LiveServer, shared_sqlite_worker: WorkerProcess, klass: Klass
) -> None:
    """Through the API (staff only; a second removal is a 404) and the page's Remove button."""
    graded = upload_and_wait(sqlite_server, klass.students[0], klass.assignment_id, REFERENCE)
    grade = f"/submissions/{graded}/manual-grades/1.1a"

    def shown(client: httpx.Client) -> tuple[float, str]:
        [q] = [q for q in client.get(f"/submissions/{graded}").json()["feedback"]["questions"]
               if q["question_id"] == "1.1a"]
        return q["score"], q["source"]

    with api(sqlite_server, klass.instructor) as prof, api(sqlite_server, klass.ta) as ta:
        assert prof.put(grade, json={"score": 0, "comment": "wrong submission"}).status_code == 200
        assert shown(prof) == (0, "manual")
        with api(sqlite_server, klass.students[0]) as student:
            assert student.delete(grade).status_code == 403
        assert ta.delete(grade).status_code == 204
        assert shown(prof) == (1, "auto")
        again = ta.delete(grade)
        assert again.status_code == 404 and "no manual grade" in again.json()["detail"]
        assert prof.put(grade, json={"score": 0, "comment": "again"}).status_code == 200
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        page = client.get(f"/submissions/{graded}")
        assert ">Remove</button>" in page.text
        removed = client.post(f"/submissions/{graded}/manual-grades/remove",
                              data={"csrf_token": _csrf(page), "question_id": "1.1a", "confirm": "yes"})
        assert removed.status_code == 303
        assert "1 / 1" in _row(client.get(removed.headers["location"]), "1.1a")
        missing = client.post(f"/submissions/{graded}/manual-grades/remove",
                              data={"csrf_token": _csrf(page), "question_id": "1.1a", "confirm": "yes"})
        assert missing.status_code == 404 and "no manual grade" in missing.text


def test_remove_deletes_a_grade_only_with_its_yes_box_ticked(
    sqlite_server: LiveServer, shared_sqlite_worker: WorkerProcess, klass: Klass
) -> None:
    """One click on Remove beside Save destroys a grade and its comment for good: it asks first."""
    graded = upload_and_wait(sqlite_server, klass.students[0], klass.assignment_id, REFERENCE)
    with api(sqlite_server, klass.instructor) as prof:
        assert prof.put(f"/submissions/{graded}/manual-grades/1.1a",
                        json={"score": 0, "comment": "wrong submission"}).status_code == 200
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        page = client.get(f"/submissions/{graded}")
        form = re.search(r'<form[^>]*manual-grade[^>]*>(?:(?!</form>).)*value="1.1a".*?</form>', page.text, re.S)
        assert form and 'type="checkbox" name="confirm" value="yes"' in form.group(0)
        refused = client.post(f"/submissions/{graded}/manual-grades/remove",
                              data={"csrf_token": _csrf(page), "question_id": "1.1a", "score": "0",
                                    "comment": "wrong submission"})
        assert refused.status_code == 422
        assert "Not removed: tick “yes, remove” beside the Remove button to confirm" in refused.text
        assert 'value="wrong submission"' in refused.text and ">Remove</button>" in refused.text  # the form again
        assert "0 / 1" in _row(client.get(f"/submissions/{graded}"), "1.1a")  # still graded by hand
        saved = client.post(f"/submissions/{graded}/manual-grades",
                            data={"csrf_token": _csrf(page), "question_id": "1.1a", "score": "0.5"})
        assert saved.status_code == 303  # Save needs no tick
        removed = client.post(f"/submissions/{graded}/manual-grades/remove",
                              data={"csrf_token": _csrf(page), "question_id": "1.1a", "confirm": "yes"})
        assert removed.status_code == 303
        assert "1 / 1" in _row(client.get(f"/submissions/{graded}"), "1.1a")


def test_a_grade_above_a_lowered_maximum_is_announced_then_counted_as_the_maximum(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    klass = make_klass(shared_sqlite_stack, new_version(shared_sqlite_stack.rubrics_dir))
    folder, aid = shared_sqlite_stack.rubrics_dir / klass.rubric_id, klass.assignment_id
    with api(sqlite_server, klass.students[0]) as alice:  # graded or not, 1.2.1a is graded by hand
        sid = alice.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
    with api(sqlite_server, klass.instructor) as prof:
        assert prof.put(f"/submissions/{sid}/manual-grades/1.2.1a", json={"score": 4}).status_code == 200
        set_points(folder, "1.2.1a", 3)
        assert prof.get(f"/assignments/{aid}/rubric").json()["grades_over_new_max"] == 1
        with browser(sqlite_server) as client:
            log_in(client, klass.instructor)
            warning = re.search(r'<p class="carried" id="grades-over-new-max">(.*?)</p>',
                                client.get(f"/assignments/{aid}/rubric").text)
            assert warning and warning.group(1).startswith("1 manual grade(s) above their question's new points")
        published = prof.post(f"/assignments/{aid}/rubric/publish", json={"expected_hash": content_hash(folder)})
        assert published.status_code == 200, published.text
        shown = {q["question_id"]: q for q in prof.get(f"/submissions/{sid}").json()["feedback"]["questions"]}
        assert (shown["1.2.1a"]["score"], shown["1.2.1a"]["max_score"], shown["1.2.1a"]["capped_from"]) == (3, 3, 4)
        [row] = [r for r in prof.get(f"/assignments/{aid}/gradebook").json()["rows"] if r["submission_id"] == sid]
        assert (row["scores"]["1.2.1a"]["score"], row["scores"]["1.2.1a"]["capped_from"]) == (3, 4)
    with api(sqlite_server, klass.students[0]) as alice:  # the staff's to settle: the student sees the score
        mine = {q["question_id"]: q for q in alice.get(f"/submissions/{sid}").json()["feedback"]["questions"]}
        assert (mine["1.2.1a"]["score"], mine["1.2.1a"]["capped_from"]) == (3, None)
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        row_html = _row(client.get(f"/submissions/{sid}"), "1.2.1a")
        assert "3 / 3" in row_html and "graded 4 when the question was worth more" in row_html
        assert ">3‡</td>" in client.get(f"/assignments/{aid}/scores").text
        log_in(client, klass.students[0])
        assert "worth more" not in _row(client.get(f"/submissions/{sid}"), "1.2.1a")  # staff only
    with api(sqlite_server, klass.students[0]) as alice:  # a resubmission carries the grade, both marks shown
        again = alice.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
    with browser(sqlite_server) as client:
        log_in(client, klass.instructor)
        scores = client.get(f"/assignments/{aid}/scores").text
        assert ">3†‡</td>" in scores and f"graded by hand on submission {sid}: to confirm; graded 4 when" in scores
        assert "it counts here as 3, the points the question has now," in client.get(f"/submissions/{again}").text
