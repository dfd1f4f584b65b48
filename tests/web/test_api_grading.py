"""End to end over HTTP on PostgreSQL + Redis with a real Celery worker: upload, grade, see the
scores (or not), grade by hand, export, regrade and read the diff."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import REFERENCE, copy_rubric, set_points
from tests.web.support import Klass, LiveServer, api, publish

GRADING_TIMEOUT_S = 90
HIDDEN = "1.2.3d"  # visibility = "hidden"
AFTER_DUE = "1.1c.iv"  # visibility = "after_due_date"; the due date is a week away


def _graded(client: httpx.Client, submission_id: int) -> dict:
    def finished() -> dict | None:
        detail = client.get(f"/submissions/{submission_id}").json()
        return detail if detail["feedback"]["status"] in ("graded", "failed") else None

    return wait_until(finished, GRADING_TIMEOUT_S, f"submission {submission_id} to be graded", interval=0.5)  # type: ignore[return-value]


@pytest.fixture
def klass(postgres_stack: Stack, postgres_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class on its own copy of the HW2 rubric, so the test can change it before a regrade."""
    return make_klass(postgres_stack, copy_rubric(postgres_stack.rubrics_dir, lambda _: None))


def test_upload_grade_review_export_and_regrade(
    postgres_server_app: LiveServer, klass: Klass, postgres_stack: Stack
) -> None:
    first, second = klass.students
    aid = klass.assignment_id
    with api(postgres_server_app, first) as alice, api(postgres_server_app, second) as bob, \
            api(postgres_server_app, klass.instructor) as prof:
        upload = alice.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)})
        assert upload.status_code == 202
        sid = upload.json()["id"]

        # The student sees the scores of visible questions only.
        seen = _graded(alice, sid)["feedback"]
        assert seen["status"] == "graded"
        shown = {q["question_id"]: q for q in seen["questions"]}
        assert HIDDEN not in shown and AFTER_DUE not in shown
        assert shown["1.1a"]["score"] == 1 and shown["1.1a"]["rubric_hash"]
        assert seen["score"] == 37 - 3 - 5

        # Another student of the course can't read it; the instructor sees everything.
        assert bob.get(f"/submissions/{sid}").status_code == 403
        assert bob.get(f"/assignments/{aid}/gradebook").status_code == 403
        full = {q["question_id"]: q for q in prof.get(f"/submissions/{sid}").json()["feedback"]["questions"]}
        assert full[HIDDEN]["score"] == 3 and full[AFTER_DUE]["score"] == 5
        book = prof.get(f"/assignments/{aid}/gradebook").json()
        row = next(r for r in book["rows"] if r["student"]["email"] == first.email)
        assert row["submission_id"] == sid and row["total"] == 37
        assert next(s for s in book["stats"] if s["id"] == "1.1a")["mean"] == 1

        # A manual grade shows up in the Canvas CSV.
        graded = prof.put(f"/submissions/{sid}/manual-grades/1.2.1a", json={"score": 3.5, "comment": "neat"})
        assert graded.status_code == 200 and graded.json()["score"] == 3.5
        assert prof.put(f"/submissions/{sid}/manual-grades/1.2.1a", json={"score": 9}).status_code == 422
        export = prof.get(f"/assignments/{aid}/gradebook.csv")
        assert export.headers["content-type"].startswith("text/csv")
        assert "attachment" in export.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(export.text)))
        mine = next(r for r in rows if r["SIS Login ID"] == first.email)
        assert mine["hw2 1.2.1a"] == "3.5" and mine["HW2"] == "40.5"

        # Worth more points in a newly published version: a regrade of the whole assignment changes her score.
        set_points(Path(postgres_stack.rubrics_dir) / klass.rubric_id, "1.3.4", 4)
        publish(klass)
        batch = prof.post(f"/assignments/{aid}/regrades", json={"reason": "1.3.4 is worth 4"})
        assert batch.status_code == 202
        bid = batch.json()["id"]
        progress = wait_until(lambda: (p := prof.get(f"/regrades/{bid}").json())["status"] == "finished" and p,
                              GRADING_TIMEOUT_S, "the regrade to finish", interval=0.5)
        assert progress == {"total": 1, "done": 1, "failed": 0, "superseded": 0, "percent": 100.0,
                            "status": "finished"}
        [change] = prof.get(f"/regrades/{bid}/diff").json()
        assert (change["submission_id"], change["student"]) == (sid, first.email)
        assert (change["old_score"], change["new_score"]) == (37, 39)
        assert change["old_rubric_hash"] != change["new_rubric_hash"]
        assert bob.get(f"/regrades/{bid}").status_code == 403
