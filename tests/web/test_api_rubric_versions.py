"""Rubric versions over the API: the diff of the folder on disk against the published version, and
publishing it, which only the course's instructors may do, with a regrade on a real worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grader.rubric_spec import content_hash
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import REFERENCE, new_version, set_points
from tests.web.support import Klass, LiveServer, api

TIMEOUT_S = 120


@pytest.fixture
def klass(postgres_stack: Stack, postgres_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    """A class on a rubric version of its own, which the test edits on disk."""
    return make_klass(postgres_stack, new_version(postgres_stack.rubrics_dir))


def test_an_instructor_reads_the_diff_publishes_it_and_regrades(
    postgres_server_app: LiveServer, postgres_stack: Stack, klass: Klass
) -> None:
    server, aid = postgres_server_app, klass.assignment_id
    folder = postgres_stack.rubrics_dir / klass.rubric_id
    status_url, publish_url = f"/assignments/{aid}/rubric", f"/assignments/{aid}/rubric/publish"
    with api(server, klass.instructor) as prof, api(server, klass.ta) as ta, api(server, klass.students[0]) as alice:
        first = prof.get(status_url).json()
        assert first["changed"] is False and first["diff"] is None and first["on_disk_hash"] == first["published_hash"]

        sid = alice.post(f"/assignments/{aid}/submissions", files={"file": ("hw2.py", REFERENCE)}).json()["id"]
        wait_until(lambda: alice.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded", TIMEOUT_S,
                   "the upload to be graded")
        before_score = alice.get(f"/submissions/{sid}").json()["feedback"]["score"]

        set_points(folder, "1.1a", 2)
        edited = content_hash(folder)
        status = prof.get(status_url).json()
        assert status["changed"] is True and status["on_disk_hash"] == edited
        assert status["published_hash"] == first["published_hash"]  # the edit alone changes nothing
        assert status["diff"]["points"] == [{"question_id": "1.1a", "title": status["diff"]["points"][0]["title"],
                                             "old": 1.0, "new": 2.0}]
        assert status["diff"]["new_total"] == status["diff"]["old_total"] + 1
        assert "rubric.toml" in " ".join(status["diff"]["files"]) and status["submissions"] == 1

        assert ta.get(status_url).status_code == 200  # TAs read it
        refused = ta.post(publish_url, json={"expected_hash": edited})
        assert refused.status_code == 403, refused.text
        assert alice.get(status_url).status_code == 403
        assert alice.post(publish_url, json={}).status_code == 403

        stale = prof.post(publish_url, json={"expected_hash": first["published_hash"]})
        assert stale.status_code == 409 and "has changed since" in stale.json()["detail"]
        assert prof.get(status_url).json()["published_hash"] == first["published_hash"]  # nothing published

        published = prof.post(publish_url, json={"expected_hash": edited, "regrade": True})
        assert published.status_code == 200, published.text
        body = published.json()
        assert body["published_hash"] == edited and body["before"]["diff"]["points"][0]["question_id"] == "1.1a"
        batch = body["regrade_batch_id"]
        assert batch is not None
        wait_until(lambda: prof.get(f"/regrades/{batch}").json()["status"] == "finished", TIMEOUT_S,
                   "the regrade to finish")
        after = alice.get(f"/submissions/{sid}").json()["feedback"]
        assert after["rubric_hash"] == edited and after["score"] == before_score + 1

        again = prof.get(status_url).json()
        assert again["changed"] is False and again["published_hash"] == edited
        nothing = prof.post(publish_url, json={"regrade": True}).json()
        assert nothing["before"]["changed"] is False and nothing["regrade_batch_id"] is None
