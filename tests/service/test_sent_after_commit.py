"""A grading task goes out when the transaction that queued its submission commits: a worker
never looks for a row it cannot see, and a rolled-back upload sends nothing. Its hard time limit is
that of the rubric version the submission is graded with, and so is its queue."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import Submission
from grader.services import publishing, queue
from grader.services.broker import GRADE_TASK
from tests.service.helpers import SentTasks, make_class, new_version, reconciled, upload


def _upload(db: Session, student_id: int, assignment_id: int) -> Submission:
    data = b"def f():\n    return 1\n"
    now = utcnow()
    submission = Submission(assignment_id=assignment_id, user_id=student_id, filename="hw2.py", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), content=data, created_at=now, updated_at=now)
    db.add(submission)
    db.flush()
    return submission


def test_a_rolled_back_upload_sends_no_task(quiet_db: Session, sent_tasks: SentTasks) -> None:
    db = quiet_db
    klass = make_class(db)
    student_id, assignment_id = klass.students[0].id, klass.assignment.id
    gone = _upload(db, student_id, assignment_id)
    queue.enqueue(db, klass.assignment, [gone.id])
    assert sent_tasks.ids(GRADE_TASK) == []  # not before the commit
    db.rollback()
    db.commit()  # a later commit of the same session does not send what was rolled back
    assert sent_tasks.ids(GRADE_TASK) == []

    kept = _upload(db, student_id, assignment_id)
    queue.enqueue(db, db.merge(klass.assignment), [kept.id])
    assert sent_tasks.ids(GRADE_TASK) == []
    db.commit()
    assert sent_tasks.ids(GRADE_TASK) == [kept.id]
    db.commit()
    assert sent_tasks.ids(GRADE_TASK) == [kept.id]  # sent once


def test_each_submission_is_sent_with_the_time_limit_and_queue_of_the_version_it_is_graded_with(
    quiet_db: Session, sent_tasks: SentTasks
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
    time_limits, queues = (sent_tasks.option_by_id(GRADE_TASK, option) for option in ("time_limit", "queue"))
    assert time_limits == {early.id: 180 + grace, late.id: 30 + grace}
    assert queues == {early.id: "cpu", late.id: "gpu"}  # no GPU worker runs: auto takes the CPU

    sent_tasks.sent.clear()
    assert {early.id, late.id} <= set(reconciled(db, 0))  # neither was claimed: both are sent again
    time_limits, queues = (sent_tasks.option_by_id(GRADE_TASK, option) for option in ("time_limit", "queue"))
    assert (time_limits[early.id], time_limits[late.id]) == (180 + grace, 30 + grace)
    assert (queues[early.id], queues[late.id]) == ("cpu", "gpu")
