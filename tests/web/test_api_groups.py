"""Wrong-answer groups over HTTP (PostgreSQL + Redis, a real worker): only the course's
instructors and TAs list groups and write their feedback; a student in a group reads the feedback with
their submission and never the group, its size or who else is in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.samples import submission_source
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import copy_rubric
from tests.web.support import Klass, LiveServer, api, page_session
from tests.web.test_student_cli import Student

NO_PADDING = submission_source("buggy_conv_size_no_padding")[1].encode()
CORRECT = submission_source("correct_vectorised")[1].encode()
NOTE = "Count the padding on both ends."


def feedback_column(table: str) -> str:
    """The text of the feedback column of `grader submit`'s table, as one line (the table folds it)."""
    cells = [line.split("│")[-2] for line in table.splitlines() if line.count("│") == 5]
    return " ".join(" ".join(cells).split())


@pytest.fixture
def klass(postgres_stack: Stack, postgres_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(postgres_stack, copy_rubric(postgres_stack.rubrics_dir, lambda _: None))


def test_only_staff_see_groups_and_students_see_only_the_feedback(
    postgres_server_app: LiveServer, postgres_stack: Stack, make_klass: Callable[..., Klass], klass: Klass,
    tmp_path: Path,
) -> None:
    server, aid = postgres_server_app, klass.assignment_id
    wrong, right = klass.students
    other = make_klass(postgres_stack)
    groups, feedback = f"/assignments/{aid}/groups", f"/assignments/{aid}/groups/feedback"
    with api(server, wrong) as alice, api(server, right) as bob, api(server, klass.instructor) as prof:
        sids = [alice.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", NO_PADDING)}).json()["id"],
                bob.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", CORRECT)}).json()["id"]]
        for client, sid in zip((alice, bob), sids, strict=True):
            wait_until(lambda c=client, s=sid: c.get(f"/submissions/{s}").json()["feedback"]["status"] == "graded",
                       120, "the uploads to be graded", interval=0.5)

        listed = prof.get(groups)
        assert listed.status_code == 200
        found = listed.json()
        assert found and all(g["size"] == 1 and g["question_id"] == "1.1b" for g in found)
        assert all([m["student"]["email"] for m in g["members"]] == [wrong.email] for g in found)
        assert {g["misconception"] for g in found} == {"size-no-padding", "shape-no-padding"}
        assert all(g["example_submission_id"] == sids[0] and g["feedback"] is None for g in found)
        key = {name: found[0][name] for name in ("question_id", "case_name", "function", "signature")}

        with api(server) as anonymous:
            assert anonymous.get(groups).status_code == 401
        refusals = [(wrong, "only instructors"), (right, "only instructors"),
                    (other.instructor, "not enrolled"), (other.students[0], "not enrolled")]
        for person, reason in refusals:
            with api(server, person) as client:
                for response in (client.get(groups), client.put(feedback, json={**key, "text": "mine"}),
                                 client.delete(feedback, params=key)):
                    assert response.status_code == 403, (person.email, response.request.method, response.text)
                    assert reason in response.json()["detail"]
        assert prof.get("/assignments/2147483647/groups").status_code == 404

        assert prof.put(feedback, json={**key, "text": "  "}).status_code == 422
        assert prof.put(feedback, json={**key, "signature": "not-a-digest", "text": NOTE}).status_code == 422
        unknown = prof.put(feedback, json={**key, "signature": "0" * 16, "text": NOTE})
        assert unknown.status_code == 404 and "gave this wrong answer" in unknown.json()["detail"]
        assert prof.delete(feedback, params=key).status_code == 404  # no feedback yet

        saved = prof.put(feedback, json={**key, "text": f"  {NOTE}\n"})
        assert saved.status_code == 200, saved.text
        assert saved.json()["text"] == NOTE and saved.json()["author_id"] is not None
        assert prof.get(groups).json()[0]["feedback"]["text"] == NOTE
        with api(server, klass.ta) as ta:  # TAs see the groups and, as graders, may write their feedback
            assert ta.get(groups).json()[0]["feedback"]["text"] == NOTE
            assert ta.put(feedback, json={**key, "text": NOTE}).json()["author_id"] != saved.json()["author_id"]

        seen = alice.get(f"/submissions/{sids[0]}")
        by_question = {q["question_id"]: q["group_feedback"] for q in seen.json()["feedback"]["questions"]}
        assert by_question["1.1b"] == [NOTE]
        assert all(notes == [] for question, notes in by_question.items() if question != "1.1b")
        assert key["signature"] not in seen.text and right.email not in seen.text
        assert NOTE not in bob.get(f"/submissions/{sids[1]}").text

        # Bob makes the same mistake later, from the student command: its feedback shows the note.
        homework = tmp_path / "hw2.py"
        homework.write_bytes(NO_PADDING)
        bob_cli = Student(server, right, tmp_path)
        assert bob_cli.login().exit_code == 0
        submitted = bob_cli.run("submit", str(homework), "--assignment", "hw2")
        assert submitted.exit_code == 0, submitted.output
        assert f"from the course staff: {NOTE}" in feedback_column(submitted.stdout)
        assert wrong.email not in submitted.stdout and key["signature"] not in submitted.stdout
        assert [g["size"] for g in prof.get(groups).json()] == [2] * len(found)

        assert prof.delete(feedback, params=key).status_code == 204
        assert NOTE not in alice.get(f"/submissions/{sids[0]}").text

    with page_session(server, wrong) as pages:
        refused = pages.get(f"/assignments/{aid}/groups")
        assert refused.status_code == 403 and wrong.email not in refused.text
