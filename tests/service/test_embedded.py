"""The embedded default: SQLite and kombu's SQLAlchemy transport, no server, a real worker process.

Also where the operator CLI and the rubric's time limit are exercised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from grader.cli import app as grader_cli
from grader.db.models import RunStatus, Submission
from grader.db.session import session_scope
from grader.services import users
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import copy_rubric, make_class, runs_of, upload, wait_finished

TIMEOUT_S = 120


def test_the_embedded_default_grades_with_a_real_worker_and_the_cli_reads_it(
    shared_sqlite_stack: Stack, shared_sqlite_worker: WorkerProcess, use_stack: Callable[[Stack], None]
) -> None:
    use_stack(shared_sqlite_stack)
    cli = CliRunner()
    with session_scope() as db:
        klass = make_class(db, students=1)
        course, email = klass.course.code, klass.students[0].email
        submission = upload(db, klass.students[0], klass.assignment)
        assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "graded"}
        [run] = runs_of(db, submission.id)
        assert run.score == run.max_score == 37.0

    added = cli.invoke(grader_cli, ["users", "add", "root@test.edu", "--name", "Root", "--role", "admin",
                                     "--password", "s3cret-passphrase", "--token"])
    assert added.exit_code == 0, added.output
    token = added.output.split("(shown once): ")[1].split()[0]
    with session_scope() as db:
        admin = users.user_for_token(db, token)
        assert admin is not None and users.authenticate(db, "root@test.edu", "s3cret-passphrase") == admin

    exported = cli.invoke(grader_cli, ["scores", "hw2", "--course", course, "--csv"])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    [row] = [r for r in rows if r["SIS Login ID"] == email]
    assert row["HW2"] == "37"

    regraded = cli.invoke(grader_cli, ["regrade", "hw2", "--course", course, "--all", "--reason", "check"])
    assert regraded.exit_code == 0, regraded.output
    assert "1/1" in regraded.output and "No score changed." in regraded.output

    stuck = cli.invoke(grader_cli, ["reconcile", "--older-than", "3600"])
    assert stuck.exit_code == 0 and "re-enqueued 0 submission(s)\nre-enqueued 0 similarity run(s)" in stuck.output
    assert cli.invoke(grader_cli, ["regrade", "hw2", "--course", course]).exit_code == 2


def _hang_while_collecting(folder: Path) -> None:
    """The rubric's trusted tests hang (not the student), and the rubric allows 2 seconds."""
    toml = folder / "rubric.toml"
    toml.write_text(toml.read_text().replace("submission_timeout_s = 180", "submission_timeout_s = 2"))
    (folder / "test_hang.py").write_text("import time\n\ntime.sleep(600)\n")


def test_a_task_over_its_hard_time_limit_fails_its_run_and_is_retried_once(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], start_worker: Callable[..., WorkerProcess]
) -> None:
    stack = sqlite_stack.with_env(GRADER_HARD_LIMIT_GRACE_S="1")
    use_stack(stack)
    rubric_id = copy_rubric(stack.rubrics_dir, _hang_while_collecting)
    start_worker(stack)
    with session_scope() as db:
        klass = make_class(db, rubric_id=rubric_id)
        submission = upload(db, klass.students[0], klass.assignment)
        assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "failed"}
        runs = runs_of(db, submission.id)
        assert [run.status for run in runs] == [RunStatus.timed_out, RunStatus.timed_out]
        assert all("hard time limit of 3 s" in (run.error or "") for run in runs)
        failed = db.get_one(Submission, submission.id, populate_existing=True)
        assert failed.error is not None and "time limit" in failed.error


def test_an_upload_survives_a_laptop_broker_that_cannot_be_written(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], tmp_path: Path
) -> None:
    """kombu's SQLite broker raises SQLAlchemy's errors, not kombu's: the upload is kept, queued."""
    unwritable = tmp_path / "broker-is-a-folder"
    unwritable.mkdir()
    use_stack(sqlite_stack.with_broker(f"sqla+sqlite:///{unwritable}"))
    with session_scope() as db:
        klass = make_class(db, students=1)
        submission = upload(db, klass.students[0], klass.assignment)
        db.expire_all()
        assert db.get_one(Submission, submission.id).status == "queued"  # the reconciler sends it later
