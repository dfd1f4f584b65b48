"""Bad uploads are refused with the right status and message, and leave nothing behind once the
caller rolls back (as every caller does after a ServiceError)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import Submission
from grader.services import submissions
from grader.services.errors import Forbidden, Rejected
from tests.service.helpers import REFERENCE, make_class


def _stored(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Submission)) or 0


@pytest.mark.parametrize(
    ("filename", "data", "status", "message"),
    [
        ("hw2.py", b"", 422, "is empty"),
        ("hw2.py", b"  \n\t\n", 422, "is empty"),
        ("hw2.py", "x = 'caf\u00e9'\n".encode("latin-1"), 422, "not UTF-8"),
        ("hw2.py", b"x = 1\0\n", 422, "NUL"),
        ("hw2.txt", b"x = 1\n", 415, ".py file or a .ipynb"),
        ("hw2", b"x = 1\n", 415, ".py file or a .ipynb"),
        ("hw2.ipynb", b"{not json", 422, "not a valid Jupyter notebook"),
        ("hw2.py", None, 413, "the limit is"),
    ],
    ids=["empty", "blank", "latin-1", "nul", "txt", "no-suffix", "bad-notebook", "oversized"],
)
def test_bad_upload_is_rejected_and_nothing_is_stored(
    any_db: Session, filename: str, data: bytes | None, status: int, message: str
) -> None:
    db = any_db
    klass = make_class(db)
    if data is None:
        data = b"# " + b"x" * get_settings().max_upload_bytes + b"\n"
    before = _stored(db)
    with pytest.raises(Rejected) as rejected:
        submissions.submit(db, klass.students[0], klass.assignment, filename, data)
    db.rollback()
    assert rejected.value.status_code == status
    assert message in rejected.value.message
    assert _stored(db) == before


def test_the_submission_limit_is_enforced(any_db: Session) -> None:
    db = any_db
    klass = make_class(db, students=2, max_submissions=2)
    first, second = klass.students
    for _ in range(2):
        submissions.submit(db, first, klass.assignment, "hw2.py", REFERENCE)
        db.commit()
    before = _stored(db)
    with pytest.raises(Rejected) as rejected:
        submissions.submit(db, first, klass.assignment, "hw2.py", REFERENCE)
    db.rollback()  # the third one was flushed before it was counted
    assert rejected.value.status_code == 429
    assert "all 2 submissions" in rejected.value.message
    assert _stored(db) == before
    submissions.submit(db, second, klass.assignment, "hw2.py", REFERENCE)  # a limit per student
    db.commit()


def test_late_uploads_follow_the_late_policy(any_db: Session) -> None:
    db = any_db
    past = utcnow() - timedelta(hours=1)
    strict = make_class(db, due_at=past, late_after="reject")
    with pytest.raises(Rejected) as rejected:
        submissions.submit(db, strict.students[0], strict.assignment, "hw2.py", REFERENCE)
    db.rollback()
    assert rejected.value.status_code == 409 and "due date" in rejected.value.message

    lenient = make_class(db, due_at=past)
    late = submissions.submit(db, lenient.students[0], lenient.assignment, "hw2.py", REFERENCE)
    db.commit()
    assert submissions.feedback(db, late, lenient.students[0]).late


def test_only_enrolled_users_can_submit(any_db: Session) -> None:
    db = any_db
    klass = make_class(db)
    outsider = make_class(db).students[0]
    with pytest.raises(Forbidden):
        submissions.submit(db, outsider, klass.assignment, "hw2.py", REFERENCE)


def test_a_valid_upload_is_stored_whole(quiet_db: Session) -> None:
    """Read back as stored, so on queues no worker reads: the session's worker took it at once
    (and it read `running`) once its fork servers came from the template in milliseconds."""
    db = quiet_db
    klass = make_class(db)
    submission = submissions.submit(db, klass.students[0], klass.assignment, "C:\\Users\\me\\hw2.py", REFERENCE)
    db.commit()
    db.expire_all()
    stored = db.get_one(Submission, submission.id)
    assert stored.filename == "hw2.py"
    assert stored.content == REFERENCE and stored.size == len(REFERENCE)
    assert stored.status == "queued" and stored.request_no == 1 and stored.attempts == 0
