"""A similarity run on PostgreSQL + Redis, done by a real Celery worker: it compares each student's
latest submission, finds the disguised copy and not the independent solutions, and its progress
reaches its total."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import SimilarityRun, User
from grader.services import similarity, similarity_runs
from grader.services.errors import Forbidden, Rejected
from harness.samples import submission_source
from harness.variants import disguise
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import Class, make_class, upload

VECTORISED = submission_source("correct_vectorised")[1]
LOOPS = submission_source("correct_loops")[1]
AUTOGRAD = submission_source("correct_autograd")[1]
TIMEOUT_S = 120


def test_a_run_finds_the_copied_pair_among_the_latest_submissions(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db, students=4)
    hw = klass.assignment
    first, second, third, fourth = klass.students

    def submit(who: User, text: str) -> int:
        return upload(db, who, hw, text.encode()).id

    original = submit(first, VECTORISED)
    submit(second, disguise(VECTORISED, 3))  # replaced below: only the latest submission counts
    independent = submit(second, LOOPS)
    copy = submit(third, disguise(VECTORISED, 5))
    submit(fourth, AUTOGRAD)
    submit(klass.instructor, VECTORISED)  # the staff's own uploads are not compared

    with pytest.raises(Forbidden):
        similarity.start_run(db, first, hw)
    with pytest.raises(Rejected):
        similarity.start_run(db, klass.instructor, hw, threshold=1.5)
    run = similarity.start_run(db, klass.instructor, hw, threshold=0.6)
    db.commit()

    seen: list[int] = []

    def finished() -> bool:
        db.rollback()  # a fresh snapshot: the worker's commits
        state = similarity.run_progress(db, klass.instructor, run.id)
        seen.append(state["done"])
        assert state["status"] != "failed", state["error"]
        return state["status"] == "finished"

    wait_until(finished, TIMEOUT_S, f"similarity run {run.id} to finish", interval=0.2)
    state = similarity.run_progress(db, klass.instructor, run.id)
    assert state["submissions"] == 4
    assert state["done"] == state["total"] == 4 + 4 * 3 // 2 and state["percent"] == 100.0
    assert seen == sorted(seen)
    assert state["started_at"] is not None and state["finished_at"] is not None

    pairs = similarity.list_pairs(db, klass.instructor, run.id)
    assert [(p["submission_a_id"], p["submission_b_id"]) for p in pairs] == [(original, copy)]
    assert pairs[0]["score"] > 0.9 and state["pairs"] == 1
    assert independent not in {p["submission_a_id"] for p in pairs} | {p["submission_b_id"] for p in pairs}

    view = similarity.get_pair(db, klass.instructor, pairs[0]["id"])
    for side in (view.a, view.b):
        pieces = side.segments
        assert "".join(piece.text for piece in pieces) == side.source
        shared = "".join(piece.text for piece in pieces if piece.shared)
        assert "torch.einsum(" in shared and len(shared) > len(side.source) / 2
    with pytest.raises(Forbidden):
        similarity.get_pair(db, third, pairs[0]["id"])
    with pytest.raises(Forbidden):
        similarity.list_pairs(db, first, run.id)


def _two_students_and_a_run(db: Session) -> tuple[Class, SimilarityRun]:
    """A class of two who uploaded the same code, and a similarity run started (and sent: to queues
    no worker reads, under quiet_db)."""
    klass = make_class(db, students=2)
    for student in klass.students:
        upload(db, student, klass.assignment, VECTORISED.encode())
    run = similarity.start_run(db, klass.instructor, klass.assignment)
    db.commit()
    return klass, run


def test_a_redelivered_run_starts_over_and_the_older_attempt_stops(quiet_db: Session) -> None:
    """Played without a worker (nothing reads these queues): a second delivery of the task while
    the first attempt makes progress is a duplicate and changes nothing; once that attempt stopped
    for the run lease, a delivery takes the run over, the first attempt's writes are refused, and a
    delivery after the end does nothing."""
    db = quiet_db
    klass, run = _two_students_and_a_run(db)

    first = similarity_runs.begin(db, run.id)
    db.commit()
    assert first is not None and len(first.submission_ids) == 2
    similarity_runs.record(db, first, 1, [])
    db.commit()
    assert similarity_runs.begin(db, run.id) is None  # a duplicate: the first attempt is alive
    db.commit()
    similarity_runs.record(db, first, 1, [])  # still its run
    _stalled(db, run.id)
    second = similarity_runs.begin(db, run.id)
    db.commit()
    assert second is not None and second.attempt == first.attempt + 1
    assert similarity.run_progress(db, klass.instructor, run.id)["done"] == 0  # started over
    with pytest.raises(similarity_runs.Superseded):
        similarity_runs.record(db, first, 2, [])
    db.rollback()
    similarity_runs.fail(db, first, "the first attempt's failure")  # refused quietly
    similarity_runs.record(db, second, 3, [])
    similarity_runs.finish(db, second)
    db.commit()
    state = similarity.run_progress(db, klass.instructor, run.id)
    assert (state["status"], state["done"], state["error"]) == ("finished", 3, None)
    assert similarity_runs.begin(db, run.id) is None


def _stalled(db: Session, run_id: int) -> None:
    """As if the run's worker had written no progress for longer than the run lease."""
    stalled = utcnow() - timedelta(seconds=get_settings().run_lease_s + 1)
    db.execute(update(SimilarityRun).where(SimilarityRun.id == run_id).values(progress_at=stalled))
    db.commit()


def test_a_run_whose_worker_keeps_dying_ends_failed_after_its_attempts(quiet_db: Session) -> None:
    """A run that kills its worker (out of memory) would otherwise hold a worker every lease, forever."""
    db = quiet_db
    klass, run = _two_students_and_a_run(db)
    attempts = get_settings().grading_attempts
    for _ in range(attempts):
        job = similarity_runs.begin(db, run.id)
        db.commit()
        assert job is not None
        _stalled(db, run.id)  # its worker died
    assert similarity_runs.begin(db, run.id) is None
    db.commit()
    state = similarity.run_progress(db, klass.instructor, run.id)
    assert state["status"] == "failed"
    assert state["error"] == (f"Not compared: it was started {attempts} times and its worker stopped each time "
                              "before it finished (killed, or out of memory); ask the service's operator to check "
                              "the workers, then start a new run.")
