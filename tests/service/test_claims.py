"""Exactly-once results: the claim protocol of grader.services.claims, step by step (no worker)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from grader import scoring
from grader.db.base import utcnow
from grader.db.models import RunStatus, Submission
from grader.services import claims, heartbeat, regrades, results
from grader.services.rubrics import on_disk
from tests.service.helpers import Class, heartbeat_goes_stale, make_class, runs_of, upload


def _upload(db: Session) -> tuple[Submission, str]:
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    return submission, klass.assignment.rubric_hash


def _report(rubric_id: str, passed: bool) -> scoring.GradeReport:
    rubric = on_disk(rubric_id)
    outcomes = [scoring.TestOutcome("t", q.id, passed) for q in rubric.auto_questions]
    return scoring.build_report(rubric, outcomes, "cpu", 0.1)


def _graded_once(db: Session) -> tuple[Class, Submission, claims.Claim]:
    """A class whose one submission is graded (0 points, request 1), before a regrade."""
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    first = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "w1")
    assert first is not None and results.record_result(db, first, _report("hw2", False)) is True
    return klass, submission, first


def test_a_live_claim_makes_others_wait_and_a_dead_one_is_taken_over(quiet_db: Session) -> None:
    db = quiet_db
    submission, rubric_hash = _upload(db)
    first = claims.claim(db, submission.id, rubric_hash, "cpu", "w1")
    assert first is not None and first.attempt_no == 1
    with pytest.raises(claims.Busy) as busy:
        claims.claim(db, submission.id, rubric_hash, "cpu", "w2")
    assert 0 < busy.value.retry_in <= 2

    heartbeat_goes_stale(db, submission.id)
    second = claims.claim(db, submission.id, rubric_hash, "cpu", "w2")
    assert second is not None and second.attempt_no == 2

    assert results.record_result(db, first, _report("hw2", True)) is False  # it lost its claim
    assert results.record_result(db, second, _report("hw2", False)) is True
    assert [(r.status, r.worker_host) for r in runs_of(db, submission.id)] == [
        (RunStatus.lost, "w1"), (RunStatus.completed, "w2"),
    ]
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w3") is None  # done: a duplicate message


def test_a_request_that_keeps_dying_ends_failed(quiet_db: Session) -> None:
    db = quiet_db
    submission, rubric_hash = _upload(db)
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w1") is not None
    heartbeat_goes_stale(db, submission.id)
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w2") is not None
    heartbeat_goes_stale(db, submission.id)
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w3") is None  # GRADER_GRADING_ATTEMPTS=2
    db.expire_all()
    failed = db.get_one(Submission, submission.id)
    assert failed.status == "failed" and "stopped 2 times" in (failed.error or "")
    assert [r.status for r in runs_of(db, submission.id)] == [RunStatus.lost, RunStatus.lost]


def test_the_attempts_a_claim_counts_are_its_own_requests_only(quiet_db: Session) -> None:
    """Other submissions' lost attempts are not this one's. On SQLite the count was rendered with
    bare column names inside the claim's RETURNING, so it counted every lost run whose id equals
    its submission's (in a fresh database, each one's first): after two, every claim failed."""
    db = quiet_db
    lost = [_upload(db) for _ in range(2)]
    for submission, rubric_hash in lost:
        assert claims.claim(db, submission.id, rubric_hash, "cpu", "w1") is not None
        heartbeat_goes_stale(db, submission.id)
    assert claims.requeue_dead_attempts(db, [s.id for s, _ in lost], utcnow()) == sorted(s.id for s, _ in lost)
    db.commit()
    assert [r.status for s, _ in lost for r in runs_of(db, s.id)] == [RunStatus.lost, RunStatus.lost]

    submission, rubric_hash = _upload(db)
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w2") is not None
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "running"


def test_a_timed_out_attempt_is_sent_again_once(quiet_db: Session) -> None:
    db = quiet_db
    submission, rubric_hash = _upload(db)
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w1", "task-1") is not None
    assert results.handle_timeout(db, submission.id, "task-1", 185.0) is True
    db.commit()  # as the task's failure handler does
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "queued"
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w1", "task-2") is not None
    assert results.handle_timeout(db, submission.id, "task-2", 185.0) is False
    db.commit()
    db.expire_all()
    failed = db.get_one(Submission, submission.id)
    assert failed.status == "failed" and "185 s" in (failed.error or "")
    runs = runs_of(db, submission.id)
    assert [r.status for r in runs] == [RunStatus.timed_out, RunStatus.timed_out]
    assert "hard time limit of 185 s" in (runs[0].error or "")


def test_a_timeout_of_an_overtaken_attempt_leaves_the_current_one_alone(quiet_db: Session) -> None:
    """The task of an overtaken request hits its hard limit after a later request was claimed by
    another worker: the live attempt goes on and records its result."""
    db = quiet_db
    klass, submission, _ = _graded_once(db)
    rubric_hash = klass.assignment.rubric_hash
    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "first")
    db.commit()
    old = claims.claim(db, submission.id, rubric_hash, "cpu", "w1", "old-task")
    assert old is not None and old.request_no == 2
    regrades.start_regrade(db, klass.instructor, klass.assignment, "again")
    db.commit()
    live = claims.claim(db, submission.id, rubric_hash, "cpu", "w2", "live-task")
    assert live is not None and live.request_no == 3

    assert results.handle_timeout(db, submission.id, "old-task", 185.0) is False  # old's task at its limit
    db.commit()
    db.expire_all()
    runs = {run.id: run.status for run in runs_of(db, submission.id)}
    assert (runs[old.run_id], runs[live.run_id]) == (RunStatus.lost, RunStatus.running)  # lost to the takeover
    assert db.get_one(Submission, submission.id).status == "running"
    assert results.record_result(db, live, _report("hw2", True)) is True
    assert regrades.regrade_progress(db, klass.instructor, batch.id)["superseded"] == 1


def test_a_give_back_leaves_a_request_that_overtook_the_attempt_to_its_own_task(quiet_db: Session) -> None:
    """A machine fault after a regrade queued a new request: the attempt's task retries (True), and
    the new request is neither ended failed nor charged a give-back."""
    db = quiet_db
    klass, submission, _ = _graded_once(db)
    regrades.start_regrade(db, klass.instructor, klass.assignment, "first")
    db.commit()
    old = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "w1")
    assert old is not None and old.request_no == 2
    regrades.start_regrade(db, klass.instructor, klass.assignment, "again")
    db.commit()
    assert claims.give_back(db, old) is True
    queued = db.get_one(Submission, submission.id, populate_existing=True)
    assert (queued.status, queued.request_no, queued.give_backs) == ("queued", 3, 0)


def test_a_regrade_during_grading_keeps_both_results_apart(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db)
    submission = upload(db, klass.students[0], klass.assignment)
    rubric_hash = klass.assignment.rubric_hash
    old = claims.claim(db, submission.id, rubric_hash, "cpu", "w1")
    assert old is not None
    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "while running")
    db.commit()
    assert results.record_result(db, old, _report("hw2", True)) is True  # request 1 still gets its result
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "queued"  # request 2 is still to do
    new = claims.claim(db, submission.id, rubric_hash, "cpu", "w2")
    assert new is not None and new.request_no == 2
    assert results.record_result(db, new, _report("hw2", False)) is True
    assert regrades.regrade_progress(db, klass.instructor, batch.id)["status"] == "finished"
    [change] = regrades.regrade_diff(db, klass.instructor, batch.id)
    assert (change["old_score"], change["new_score"]) == (None, 0.0)
    assert [(r.request_no, r.status) for r in runs_of(db, submission.id)] == [
        (1, RunStatus.completed), (2, RunStatus.completed),
    ]


def test_a_regrade_overtaken_by_another_finishes_with_its_item_superseded(quiet_db: Session) -> None:
    """A regrade stopped (Ctrl-C) and started again before a worker reached it: the first batch's
    request is never graded. It used to stay `running`, and `grader regrade` waited on it forever."""
    db = quiet_db
    klass, submission, _ = _graded_once(db)
    rubric_hash = klass.assignment.rubric_hash
    stopped = regrades.start_regrade(db, klass.instructor, klass.assignment, "stopped with Ctrl-C")
    db.commit()
    again = regrades.start_regrade(db, klass.instructor, klass.assignment, "started again")
    db.commit()

    newest = claims.claim(db, submission.id, rubric_hash, "cpu", "w2")
    assert newest is not None and newest.request_no == 3
    assert results.record_result(db, newest, _report("hw2", True)) is True
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w3") is None  # the first batch's message

    assert regrades.regrade_progress(db, klass.instructor, stopped.id) == {
        "total": 1, "done": 0, "failed": 0, "superseded": 1, "percent": 100.0, "status": "finished",
    }
    assert regrades.regrade_diff(db, klass.instructor, stopped.id) == []  # it graded nothing
    assert regrades.regrade_progress(db, klass.instructor, again.id) == {
        "total": 1, "done": 1, "failed": 0, "superseded": 0, "percent": 100.0, "status": "finished",
    }
    [change] = regrades.regrade_diff(db, klass.instructor, again.id)
    assert (change["old_score"], change["new_score"]) == (0.0, 37.0)


def test_an_overtaken_request_whose_attempt_finishes_first_counts_for_its_batch(quiet_db: Session) -> None:
    """A re-run asked for while the batch's attempt runs: that attempt still records, and is done."""
    db = quiet_db
    klass, submission, first = _graded_once(db)
    rubric_hash = klass.assignment.rubric_hash
    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "all of them")
    db.commit()
    running = claims.claim(db, submission.id, rubric_hash, "cpu", "w2")
    assert running is not None and running.request_no == 2
    audit = regrades.rerun(db, klass.instructor, first.run_id)
    db.commit()

    assert results.record_result(db, running, _report("hw2", True)) is True
    rerun = claims.claim(db, submission.id, rubric_hash, "cpu", "w3")
    assert rerun is not None and rerun.request_no == 3
    assert results.record_result(db, rerun, _report("hw2", True)) is True
    for batch_id in (batch.id, audit.id):
        assert regrades.regrade_progress(db, klass.instructor, batch_id) == {
            "total": 1, "done": 1, "failed": 0, "superseded": 0, "percent": 100.0, "status": "finished",
        }
    [change] = regrades.regrade_diff(db, klass.instructor, batch.id)
    assert (change["old_score"], change["new_score"]) == (0.0, 37.0)


def test_a_rubric_that_fails_ends_the_request_without_retry(quiet_db: Session) -> None:
    db = quiet_db
    submission, rubric_hash = _upload(db)
    claim = claims.claim(db, submission.id, rubric_hash, "cpu", "w1")
    assert claim is not None
    assert results.record_failure(db, claim, "the rubric failed: boom") is True
    db.expire_all()
    failed = db.get_one(Submission, submission.id)
    assert failed.status == "failed" and "boom" not in (failed.error or "")  # details are for the staff
    assert [(r.status, r.error) for r in runs_of(db, submission.id)] == [(RunStatus.failed, "the rubric failed: boom")]
    assert claims.claim(db, submission.id, rubric_hash, "cpu", "w2") is None


def test_the_heartbeat_keeps_a_claim_fresh_only_while_it_grades(quiet_db: Session) -> None:
    db = quiet_db
    submission, rubric_hash = _upload(db)
    claimed = claims.claim(db, submission.id, rubric_hash, "cpu", "w1")
    assert claimed is not None

    def age_s() -> float:
        db.expire_all()
        return (utcnow() - db.get_one(Submission, submission.id).heartbeat_at).total_seconds()

    beat = heartbeat.Heartbeat(interval_s=0.05)
    with beat.keep(claimed):
        heartbeat_goes_stale(db, submission.id)
        time.sleep(0.5)
        assert age_s() < 1  # beaten again while grading
    heartbeat_goes_stale(db, submission.id)
    time.sleep(0.3)
    assert age_s() > 60  # and left alone once it is done
