"""A grading task goes out when the transaction that queued its submission commits: a worker
never looks for a row it cannot see, and a rolled-back upload sends nothing. Its hard time limit is
that of the rubric version the submission is graded with, and so is its queue."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import Submission
from grader.services import publishing, queue
from tests.service.helpers import make_class, new_version, reconciled, upload


class _Recorder:
    """Stands in for the broker client only: what would have been sent, in order."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.time_limits: dict[int, object] = {}
        self.queues: dict[int, object] = {}

    def send_task(self, name: str, args: list[int], **options: object) -> None:
        self.sent.append(args[0])
        self.time_limits[args[0]] = options.get("time_limit")
        self.queues[args[0]] = options.get("queue")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    recorder = _Recorder()
    monkeypatch.setattr(queue, "client", lambda: recorder)
    return recorder


def _upload(db: Session, student_id: int, assignment_id: int) -> Submission:
    data = b"def f():\n    return 1\n"
    now = utcnow()
    submission = Submission(assignment_id=assignment_id, user_id=student_id, filename="hw2.py", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), content=data, created_at=now, updated_at=now)
    db.add(submission)
    db.flush()
    return submission


def test_a_rolled_back_upload_sends_no_task(quiet_db: Session, recorder: _Recorder) -> None:
    db = quiet_db
    klass = make_class(db)
    student_id, assignment_id = klass.students[0].id, klass.assignment.id
    gone = _upload(db, student_id, assignment_id)
    queue.enqueue(db, klass.assignment, [gone.id])
    assert recorder.sent == []  # not before the commit
    db.rollback()
    db.commit()  # a later commit of the same session does not send what was rolled back
    assert recorder.sent == []

    kept = _upload(db, student_id, assignment_id)
    queue.enqueue(db, db.merge(klass.assignment), [kept.id])
    assert recorder.sent == []
    db.commit()
    assert recorder.sent == [kept.id]
    db.commit()
    assert recorder.sent == [kept.id]  # sent once


def test_each_submission_is_sent_with_the_time_limit_and_queue_of_the_version_it_is_graded_with(
    quiet_db: Session, recorder: _Recorder
) -> None:
    db = quiet_db
    rubrics_dir, grace = get_settings().rubrics_dir, get_settings().hard_limit_grace_s
    rubric_id = new_version(rubrics_dir)
    klass = make_class(db, students=2, rubric_id=rubric_id)
    early = upload(db, klass.students[0], klass.assignment)  # graded with the version that allows 180 s, any device
    toml = rubrics_dir / rubric_id / "rubric.toml"
    toml.write_text(toml.read_text().replace("submission_timeout_s = 180", "submission_timeout_s = 30")
                    .replace('device = "auto"', 'device = "cuda"'))
    publishing.publish(db, klass.instructor, klass.assignment)
    db.commit()
    late = upload(db, klass.students[1], klass.assignment)
    assert recorder.time_limits == {early.id: 180 + grace, late.id: 30 + grace}
    assert recorder.queues == {early.id: "cpu", late.id: "gpu"}  # no GPU worker runs: auto takes the CPU

    recorder.time_limits.clear()
    recorder.queues.clear()
    assert {early.id, late.id} <= set(reconciled(db, 0))  # neither was claimed: both are sent again
    assert (recorder.time_limits[early.id], recorder.time_limits[late.id]) == (180 + grace, 30 + grace)
    assert (recorder.queues[early.id], recorder.queues[late.id]) == ("cpu", "gpu")
