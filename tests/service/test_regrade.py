"""A batch regrade after a rubric version is published re-makes every score and lists exactly the changed ones."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import RunStatus, Submission, SubmissionStatus, User
from grader.services import publishing, regrades
from grader.services.errors import Forbidden, NotFound, Rejected
from grader.services.scores import effective_runs
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import (
    REFERENCE,
    WRONG_CONV2D,
    copy_rubric,
    make_class,
    runs_of,
    set_points,
    upload,
    wait_finished,
)

SUBMISSIONS = 10  # two pool processes grade them side by side; `make bench` regrades a thousand
TIMEOUT_S = 240


def wait_for_regrade(db: Session, viewer: User, batch_id: int) -> list[float]:
    """Poll the batch's progress until it is finished; every percentage seen on the way."""
    seen: list[float] = []

    def finished() -> bool:
        db.rollback()
        progress = regrades.regrade_progress(db, viewer, batch_id)
        seen.append(progress["percent"])
        return progress["status"] == "finished"

    wait_until(finished, TIMEOUT_S, f"regrade {batch_id} to finish", interval=0.5)
    return seen


def test_regrading_a_class_after_a_rubric_change(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    rubric_id = copy_rubric(postgres_stack.rubrics_dir, lambda folder: None)
    klass = make_class(db, students=SUBMISSIONS, rubric_id=rubric_id)
    uploads = {}
    for index, student in enumerate(klass.students):
        data = WRONG_CONV2D if index % 5 == 0 else REFERENCE
        uploads[upload(db, student, klass.assignment, data).id] = data
    assert set(wait_finished(db, list(uploads), TIMEOUT_S).values()) == {"graded"}
    old_hash = klass.assignment.rubric_hash
    before = effective_runs(db, list(uploads), old_hash)
    perfect = {sid for sid, data in uploads.items() if data == REFERENCE}
    full = before[next(iter(perfect))].max_score
    assert all((before[sid].score == full) == (sid in perfect) for sid in uploads)

    # 1.1a is now worth 2 points: perfect scores gain a point, those that fail 1.1a stay the same.
    set_points(postgres_stack.rubrics_dir / rubric_id, "1.1a", 2)
    publishing.publish(db, klass.instructor, klass.assignment)
    db.commit()
    with pytest.raises(Forbidden):
        regrades.start_regrade(db, klass.students[0], klass.assignment, "new points")
    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "1.1a is worth 2 points")
    db.commit()
    new_hash = batch.rubric_hash
    assert new_hash != old_hash and klass.assignment.rubric_hash == new_hash

    seen = wait_for_regrade(db, klass.instructor, batch.id)
    assert seen == sorted(seen) and seen[-1] == 100.0
    assert regrades.regrade_progress(db, klass.instructor, batch.id) == {
        "total": SUBMISSIONS, "done": SUBMISSIONS, "failed": 0, "superseded": 0, "percent": 100.0, "status": "finished",
    }

    after = effective_runs(db, list(uploads), new_hash)
    assert {run.rubric_hash for run in after.values()} == {new_hash}
    assert all(after[sid].id != before[sid].id for sid in uploads)
    for sid in uploads:
        assert [r.status for r in runs_of(db, sid)] == [RunStatus.completed, RunStatus.completed]

    diff = regrades.regrade_diff(db, klass.instructor, batch.id)
    assert {change["submission_id"] for change in diff} == perfect
    assert all((c["old_score"], c["new_score"]) == (full, full + 1) for c in diff)
    assert all(after[sid].score == before[sid].score for sid in set(uploads) - perfect)
    assert all((c["old_rubric_hash"], c["new_rubric_hash"]) == (old_hash, new_hash) for c in diff)


def test_regrade_since_picks_only_newer_submissions(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db, students=2)
    early = upload(db, klass.students[0], klass.assignment)
    time.sleep(0.05)
    late = upload(db, klass.students[1], klass.assignment)
    wait_finished(db, [early.id, late.id], TIMEOUT_S)
    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "", since=late.created_at)
    db.commit()
    wait_for_regrade(db, klass.instructor, batch.id)
    assert regrades.regrade_progress(db, klass.instructor, batch.id)["total"] == 1
    assert regrades.regrade_diff(db, klass.instructor, batch.id) == []  # same rubric, same score
    assert len(runs_of(db, late.id)) == 2 and len(runs_of(db, early.id)) == 1


def test_a_whole_assignment_past_postgresqls_parameter_limit_is_regraded(quiet_postgres_db: Session) -> None:
    """A large course's assignment can hold more submissions than PostgreSQL takes parameters in one
    statement (65,535): the regrade named them all in one IN list and failed. Not committed: no
    worker needs to see the 70,000 requests, only that each was made."""
    db = quiet_postgres_db
    klass = make_class(db)
    many = 70_000
    now = utcnow()
    db.execute(insert(Submission.__table__), [
        dict(assignment_id=klass.assignment.id, user_id=klass.students[0].id, filename="hw2.py", size=1,
             sha256="0" * 64, content=b"x", created_at=now, updated_at=now, rubric_hash=klass.assignment.rubric_hash,
             status=SubmissionStatus.graded)
        for _ in range(many)
    ])
    try:
        batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "the rubric changed")
        db.flush()
        assert regrades.regrade_progress(db, klass.instructor, batch.id)["total"] == many
        assert db.scalar(select(func.count()).where(Submission.assignment_id == klass.assignment.id,
                                                   Submission.status == SubmissionStatus.queued,
                                                   Submission.request_no == 2)) == many
    finally:
        db.rollback()


def test_a_regrade_lists_at_most_ten_thousand_submissions(any_db: Session) -> None:
    """More would near PostgreSQL's 65,535 parameters of a query; each listed id counts once."""
    db = any_db
    klass = make_class(db)
    with pytest.raises(Rejected) as refused:
        regrades.start_regrade(db, klass.instructor, klass.assignment, "", list(range(1, 10_002)))
    assert refused.value.status_code == 422
    assert refused.value.message.startswith("a regrade lists at most 10,000 submissions, not 10,001")
    with pytest.raises(NotFound, match=r"^submissions \[1, 2, 3, "):  # not too many, but not hw2's
        regrades.start_regrade(db, klass.instructor, klass.assignment, "", list(range(1, 10_001)) * 2)
