"""A worker whose sandbox root the sandbox uid cannot reach says so when it starts, and scores
nothing: the submission waits, retried, and is graded once the machine is fixed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from grader.db.models import Submission
from grader.sandbox.scratch import sweep_stale
from tests.fixtures.services import Stack, WorkerProcess, key_prefix, wait_until
from tests.service.helpers import make_class, runs_of, upload, wait_finished

TIMEOUT_S = 90


@pytest.mark.skipif(os.geteuid() != 0, reason="without root the sandbox runs as the worker's own user")
def test_a_worker_with_an_unreachable_sandbox_root_retries_instead_of_scoring(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    db = postgres_db
    parent = Path(tempfile.mkdtemp(prefix="grader-test-"))  # 0700: the sandbox uid cannot traverse it
    root = parent / "sandboxes"
    worker = None
    try:
        stack = (postgres_stack.with_broker(postgres_stack.broker_url, key_prefix())
                 .with_env(GRADER_SANDBOX_ROOT=str(root)))
        use_stack(stack)
        worker = start_worker(stack)
        wait_until(lambda: "sandboxes cannot run" in worker.log(), TIMEOUT_S, "the worker to report its sandbox root")
        assert "GRADER_SANDBOX_ROOT" in worker.log()

        klass = make_class(db)
        submission = upload(db, klass.students[0], klass.assignment)
        wait_until(lambda: "SandboxUnavailable" in worker.log() and "Retry in" in worker.log(), TIMEOUT_S,
                   "the grading to be retried")
        db.rollback()
        assert db.get_one(Submission, submission.id, populate_existing=True).status == "queued"
        assert runs_of(db, submission.id) == []  # no score, no failed run: nothing the student sees

        os.chmod(parent, 0o711)
        assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "graded"}
        [run] = runs_of(db, submission.id)
        assert run.score == run.max_score == 37.0
    finally:
        if worker is not None:  # killed, as workers can be: what it left goes at an engine start
            worker.kill()
            wait_until(lambda: (sweep_stale(root), not any(root.iterdir()))[1], TIMEOUT_S,
                       "the killed worker's sandbox directories to be removed")
        shutil.rmtree(parent, ignore_errors=True)
