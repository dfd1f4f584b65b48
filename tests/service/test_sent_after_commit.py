"""A grading task goes out when the transaction that queued its submission commits: a worker
never looks for a row it cannot see, and a rolled-back upload sends nothing."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Submission
from grader.services import queue
from tests.service.helpers import make_class


class _Recorder:
    """Stands in for the broker client only: what would have been sent, in order."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send_task(self, name: str, args: list[int], **options: object) -> None:
        self.sent.append(args[0])


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
