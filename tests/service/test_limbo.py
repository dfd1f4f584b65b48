"""Nothing is left in limbo: whatever goes wrong in a worker ends as a failed run with a reason,
student-derived text the database would refuse is stored made safe, and work that no worker
claims ends failed after a bounded number of sends, with a reason both student and staff see.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import RunStatus, Submission
from grader.db.session import session_scope
from grader.db.text import storable
from grader.engine import Engine
from grader.errors import SandboxUnavailable
from grader.rubric_spec import RubricError
from grader.services import claims, faults, grading, publishing, queue, regrades, results, submissions
from grader.services.broker import GRADE_TASK
from grader.services.errors import Rejected
from grader.services.reconcile import reconcile
from tests.fixtures.services import Stack, WorkerProcess, key_prefix
from tests.service.helpers import (
    Class,
    SentTasks,
    copy_rubric,
    forget_version,
    heartbeat_goes_stale,
    make_class,
    new_version,
    reconciled,
    runs_of,
    sent_as_of,
    set_points,
    taken_at,
    upload,
    wait_finished,
    with_override,
)
from workers import tasks

TIMEOUT_S = 120

# Valid UTF-8 without a NUL byte, so any upload check lets it in; what it prints and raises is not.
PRINTS_AND_RAISES_UNSTORABLE_TEXT = with_override(r"""
    print("printed\x00nul")

    def initial_loss(num_classes):
        raise ValueError("nul\x00 and lone surrogate \ud800")
""")

# JSON may escape a lone surrogate: the notebook parses, its source cannot be encoded again.
SURROGATE_NOTEBOOK = json.dumps({"cells": [{"cell_type": "code", "source": "x = '\ud800'\n"}]}).encode()


@pytest.fixture(params=["postgres", "shared_sqlite"], ids=["postgres", "sqlite"])
def worker_db(request: pytest.FixtureRequest, use_stack: Callable[[Stack], None]) -> Iterator[Session]:
    """A session on PostgreSQL + Redis or on the embedded SQLite, whose uploads the session's real
    worker on that stack grades (these tests kill no worker)."""
    request.getfixturevalue(f"{request.param}_worker")
    use_stack(request.getfixturevalue(f"{request.param}_stack"))
    with session_scope() as db:
        yield db


def _store_as_is(db: Session, klass: Class, filename: str, data: bytes) -> int:
    """An upload already in the database (let in by older upload checks), sent to the workers."""
    now = utcnow()
    submission = Submission(assignment_id=klass.assignment.id, user_id=klass.students[0].id, filename=filename,
                            size=len(data), sha256=hashlib.sha256(data).hexdigest(), content=data,
                            created_at=now, updated_at=now, rubric_hash=klass.assignment.rubric_hash)
    db.add(submission)
    db.flush()
    queue.enqueue(db, klass.assignment, [submission.id])
    db.commit()
    return submission.id


def test_text_printed_or_raised_by_the_student_is_stored_made_safe(worker_db: Session) -> None:
    """PostgreSQL refuses NUL and SQLite lone surrogates: the run used to stay `running`."""
    db = worker_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment, PRINTS_AND_RAISES_UNSTORABLE_TEXT)
    assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "graded"}
    [run] = runs_of(db, submission.id)
    assert run.status == RunStatus.completed and run.score == 36.0  # half of 1.3.4's two points lost
    assert "printed\ufffdnul" in run.student_output
    [question] = [q for q in run.questions if q.question_id == "1.3.4"]
    assert "nul\ufffd and lone surrogate " in question.feedback
    assert any("nul\ufffd and lone surrogate " in t.feedback for t in run.tests)
    stored = [run.student_output, *(q.feedback for q in run.questions), *(t.feedback for t in run.tests)]
    assert all(storable(text) == text for text in stored)  # the surrogate too, however it got here


def test_an_upload_that_fails_before_the_claim_ends_with_a_reason(worker_db: Session) -> None:
    """It used to stay `queued` with 0 attempts: sent again by the reconciler, and polled, forever."""
    db = worker_db
    klass = make_class(db)
    submission_id = _store_as_is(db, klass, "hw2.ipynb", SURROGATE_NOTEBOOK)
    assert wait_finished(db, [submission_id], TIMEOUT_S)[submission_id] in ("graded", "failed")
    finished = db.get_one(Submission, submission_id, populate_existing=True)
    [run] = runs_of(db, submission_id)
    assert finished.attempts == 1
    if run.status == RunStatus.failed:
        assert finished.error  # the student sees that it failed, and where to ask
        assert "surrogate" in (run.error or "")  # the staff see why
    else:  # read as an unusable upload: no point, and the reason as its feedback
        assert run.status == RunStatus.completed and run.score == 0 and run.output


def test_a_rubric_folder_that_stops_loading_changes_nothing_until_published(
    postgres_db: Session, postgres_stack: Stack, use_stack: Callable[[Stack], None],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """A rubric.toml saved as Latin-1 after the assignment was made. Sending used to raise (the
    reconciler with it, for every submission) and the worker failed before the claim; now both
    read the published version, and publishing the folder is refused with the reason."""
    db = postgres_db
    stack = postgres_stack.with_broker(postgres_stack.broker_url, key_prefix())
    use_stack(stack)
    rubric_id = copy_rubric(stack.rubrics_dir, lambda folder: None)
    klass = make_class(db, rubric_id=rubric_id)
    toml = stack.rubrics_dir / rubric_id / "rubric.toml"
    toml.write_bytes(toml.read_bytes().replace(b'title = "HW2', b'title = "R\xe9seaux HW2', 1))

    submission = upload(db, klass.students[0], klass.assignment)
    assert submission.id in reconciled(db, older_than_s=0)
    start_worker(stack)

    assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "graded"}
    [run] = runs_of(db, submission.id)
    assert (run.status, run.rubric_hash, run.score) == (RunStatus.completed, klass.assignment.rubric_hash, 37)
    with pytest.raises(Rejected) as refused:
        publishing.publish(db, klass.instructor, klass.assignment)
    assert refused.value.status_code == 422 and "rubric.toml" in refused.value.message
    assert "codec can't decode" in refused.value.message


def test_a_rubric_version_that_cannot_be_read_fails_the_run_with_a_reason(quiet_db: Session, engine: Engine) -> None:
    """A version made before versions were stored, whose folder has changed since: nothing can
    grade with it, so the run fails and says how to go on."""
    db = quiet_db
    rubric_id = new_version(get_settings().rubrics_dir)
    klass = make_class(db, rubric_id=rubric_id)
    version = klass.assignment.rubric_hash
    forget_version(db, version)
    set_points(get_settings().rubrics_dir / rubric_id, "1.1a", 2)
    submission = upload(db, klass.students[0], klass.assignment)

    assert grading.grade_submission(engine, submission.id, "cpu", "w1") == RunStatus.failed
    [run] = runs_of(db, submission.id)
    assert run.rubric_hash == version
    assert f"rubric version {version} is not stored" in (run.error or "")
    assert "grader rubric publish" in (run.error or "")
    failed = db.get_one(Submission, submission.id, populate_existing=True)
    assert failed.error == results.STAFF_ERROR_FOR_STUDENT


def test_a_failure_reason_with_unstorable_text_is_stored(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    claim = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "w1")
    assert claim is not None
    assert results.record_failure(db, claim, "internal error: ValueError: \x00 \ud800") is True
    [run] = runs_of(db, submission.id)
    assert (run.status, run.error) == (RunStatus.failed, "internal error: ValueError: \ufffd \ufffd")


def test_infrastructure_faults_are_retried_and_anything_else_fails_the_attempt() -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("the database is down"))
    for fault in (outage, ConnectionResetError("the broker went away"), SandboxUnavailable("no sandbox root")):
        with pytest.raises(type(fault)):
            faults.failure_of(fault)
    assert faults.failure_of(RubricError("no tests")) == "the rubric failed: no tests"
    reason = faults.failure_of(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    assert reason.startswith("internal error: UnicodeEncodeError:") and "surrogates" in reason


class _MachineFault:
    """What the engine hands back when this machine stops being able to run sandboxes mid-grading."""

    def report(self) -> None:
        raise SandboxUnavailable("the sandbox root went away")


@contextlib.contextmanager
def _faulty_start(*args: object, **kwargs: object) -> Iterator[_MachineFault]:
    yield _MachineFault()


def test_a_machine_fault_after_the_claim_gives_the_claim_back_and_spends_no_attempt(
    quiet_db: Session, engine: Engine, sent_tasks: SentTasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retried with backoff like a fault before the claim: never the student's, so the request
    waits for a machine that works, then is graded (up to GRADER_GRADING_GIVE_BACKS times, below)."""
    db = quiet_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    with monkeypatch.context() as patch:
        patch.setattr(engine, "start", _faulty_start)
        for task_id in ("task-1", "task-2", "task-3"):  # more faults than GRADER_GRADING_ATTEMPTS
            with pytest.raises(SandboxUnavailable):
                grading.grade_submission(engine, submission.id, "cpu", "w1", task_id)
            assert db.get_one(Submission, submission.id, populate_existing=True).status == "queued"
            assert runs_of(db, submission.id) == []
    assert grading.grade_submission(engine, submission.id, "cpu", "w1", "task-4") == RunStatus.completed
    [run] = runs_of(db, submission.id)
    assert (run.request_no, run.score) == (1, 37)


def test_a_machine_fault_after_the_claim_that_keeps_coming_back_ends_the_request_failed(
    quiet_db: Session, engine: Engine, sent_tasks: SentTasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A give-back spends no attempt, and the claim after it starts the reconciler's count of sends
    again, so a fault that came back every time kept the request queued forever. The request's
    give-backs are bounded: the fault after the last one ends it failed, its reason on the run."""
    monkeypatch.setenv("GRADER_GRADING_GIVE_BACKS", "2")
    get_settings.cache_clear()
    db = quiet_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    with monkeypatch.context() as patch:
        patch.setattr(engine, "start", _faulty_start)
        for task_id in ("task-1", "task-2"):
            with pytest.raises(SandboxUnavailable):
                grading.grade_submission(engine, submission.id, "cpu", "w1", task_id)
            assert submission.id in reconciled(db, older_than_s=0)  # queued, and sent again
        assert grading.grade_submission(engine, submission.id, "cpu", "w1", "task-3") == RunStatus.failed
    failed = db.get_one(Submission, submission.id, populate_existing=True)
    assert (failed.status, failed.error, failed.attempts) == ("failed", results.STAFF_ERROR_FOR_STUDENT, 3)
    [run] = runs_of(db, submission.id)
    assert (run.status, run.attempt_no) == (RunStatus.failed, 3)
    assert "stopped by a fault of the grading machine 3 times" in (run.error or "")
    assert "SandboxUnavailable: the sandbox root went away" in (run.error or "")
    assert submission.id not in reconciled(db, older_than_s=0)  # and it stays failed

    regrades.start_regrade(db, klass.instructor, klass.assignment, "the machine is fixed")
    db.commit()
    with monkeypatch.context() as patch:
        patch.setattr(engine, "start", _faulty_start)
        with pytest.raises(SandboxUnavailable):  # a new request has give-backs of its own
            grading.grade_submission(engine, submission.id, "cpu", "w1", "task-4")
    assert grading.grade_submission(engine, submission.id, "cpu", "w1", "task-5") == RunStatus.completed


def test_work_no_worker_takes_ends_failed_after_a_bounded_number_of_sends(quiet_db: Session) -> None:
    """It used to be sent again every reconcile_after_s, forever. Sends count since the last claim."""
    db = quiet_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)

    assert submission.id in reconciled(db, older_than_s=0)  # sent again once...
    assert claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "w1") is not None  # ...taken...
    heartbeat_goes_stale(db, submission.id)  # ...and its worker died
    assert submission.id in reconciled(db, older_than_s=0)  # its attempt is given up, it is queued and sent
    assert [run.status for run in runs_of(db, submission.id)] == [RunStatus.lost]

    sends = get_settings().reconcile_sends
    for _ in range(sends):
        assert submission.id in reconciled(db, older_than_s=0)
    assert submission.id not in reconciled(db, older_than_s=0)
    db.expire_all()
    failed = db.get_one(Submission, submission.id)
    assert failed.status == "failed"
    assert failed.attempts == 1  # sends are not attempts: attempt numbers count claims only
    for viewer in (klass.students[0], klass.instructor):
        error = submissions.feedback(db, failed, viewer).error or ""
        assert "no worker took it" in error and "'cpu' queue" in error and f"{sends} times" in error
    assert submission.id not in reconciled(db, older_than_s=0)  # and it stays failed


def test_work_waiting_its_turn_behind_a_busy_queue_is_neither_sent_again_nor_failed(quiet_db: Session) -> None:
    """At a deadline a queue can hold hours of work. While workers take the work sent before a
    submission from its queue, it waits its turn: it used to be sent again (a duplicate behind it)
    and counted, and failed after reconcile_sends sends as if no worker took that queue. The test
    plays its hours on a clock of its own, ahead of the real one."""
    db = quiet_db
    klass = make_class(db, students=2)
    sends = get_settings().reconcile_sends
    start = utcnow() + timedelta(hours=1)
    ahead = [upload(db, klass.students[1], klass.assignment).id for _ in range(sends + 2)]
    waiting = upload(db, klass.students[0], klass.assignment).id
    sent_as_of(db, ahead, start)
    sent_as_of(db, [waiting], start + timedelta(seconds=1))

    def state() -> tuple[str, int]:
        db.expire_all()
        row = db.get_one(Submission, waiting)
        return row.status, row.sends

    clock = start
    for submission_id in ahead:  # one taken a minute, still graded at the tick after
        clock += timedelta(minutes=1)
        taken_at(db, submission_id, "cpu", clock)
        assert waiting not in reconciled(db, 0, clock)
    assert state() == ("queued", 0)

    # Work sent after it is taken: the workers went past it, so its message is gone.
    later = upload(db, klass.students[1], klass.assignment).id
    clock += timedelta(minutes=1)
    sent_as_of(db, [later], clock - timedelta(seconds=30))
    taken_at(db, later, "cpu", clock)
    assert waiting in reconciled(db, 0, clock)
    assert state() == ("queued", 1)
    assert waiting not in reconciled(db, 0, clock + timedelta(seconds=1))  # sent behind `later`: it waits again

    # The cpu queue stops moving; what the gpu queue takes is no sign of it.
    for _ in range(sends - 1):
        clock += timedelta(hours=1)
        taken_at(db, upload(db, klass.students[1], klass.assignment).id, "cuda", clock)
        assert waiting in reconciled(db, 0, clock)
    assert waiting not in reconciled(db, 0, clock + timedelta(hours=1))
    assert state()[0] == "failed"


def test_a_duplicate_taken_first_keeps_when_its_own_message_was_sent(
    quiet_db: Session, engine: Engine, sent_tasks: SentTasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission can have two messages in its queue (a regrade, a send again); a worker takes the
    older first. Its run must keep when that message was sent, not the submission's latest send:
    the work sent between the two then looked passed over, was sent again and counted, and each
    such send did the same to the work sent before it."""
    db = quiet_db
    klass = make_class(db, students=2)
    first = upload(db, klass.students[0], klass.assignment)
    first_sent = db.get_one(Submission, first.id).updated_at
    between = upload(db, klass.students[1], klass.assignment)
    regrades.start_regrade(db, klass.instructor, klass.assignment, "sent again", [first.id])
    db.commit()  # the second message of `first`
    older, _, newer = sent_tasks.of(GRADE_TASK)
    assert older[0] == newer[0] == [first.id]  # a worker of an older version takes them all the same

    monkeypatch.setattr(tasks._ProcessEngine, "engine", engine)
    assert tasks.grade_submission.apply(args=older[0], headers=older[1]["headers"]).get() == RunStatus.completed
    assert runs_of(db, first.id)[-1].sent_at == first_sent  # its message's, not the regrade's
    db.rollback()
    waiting_since = db.get_one(Submission, between.id, populate_existing=True).updated_at
    assert between.id not in reconciled(db, (utcnow() - waiting_since).total_seconds())  # it still waits its turn


def test_two_reconcilers_at_once_send_and_count_a_stuck_submission_once(quiet_postgres_db: Session) -> None:
    """Two beats (a worker scaled with its embedded one), or `grader reconcile` during the beat's
    run: the second used to send and count each stuck submission again, so it failed in half the
    sends. The second now waits on the first's row and finds it sent."""
    db = quiet_postgres_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    clock = utcnow() + timedelta(hours=1)  # the reconcilers' clock: an hour on, the upload is stuck
    first = reconcile(db, 60, now=clock)  # not committed yet: it holds the row
    second: list[int] = []

    def reconcile_meanwhile() -> None:
        with session_scope() as other:
            second.extend(reconcile(other, 60, now=clock).submissions)
            other.commit()

    meanwhile = threading.Thread(target=reconcile_meanwhile)
    meanwhile.start()
    meanwhile.join(timeout=1)
    assert meanwhile.is_alive()  # waiting for the first's row
    db.commit()
    meanwhile.join(timeout=TIMEOUT_S)
    assert submission.id in first.submissions and submission.id not in second
    db.expire_all()
    assert db.get_one(Submission, submission.id).sends == 1
