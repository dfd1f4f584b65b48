"""What the database says about submissions being graded: their statuses, waiting until they are
finished (polled every few milliseconds, so waiting adds no load on the API), and their latest run."""

from __future__ import annotations

from harness.servers import wait_until

POLL_S = 0.005
FINISHED = ("graded", "failed")


def submission_status(db, ids: list[int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from grader.db.models import Submission as Row

    db.rollback()
    return {i: str(s) for i, s in db.execute(select(Row.id, Row.status).where(Row.id.in_(ids))).all()}


def wait_graded(db, ids: list[int], timeout: float) -> dict[int, str]:  # type: ignore[no-untyped-def]
    def done() -> dict[int, str] | None:
        found = submission_status(db, ids)
        return found if all(found.get(i) in FINISHED for i in ids) else None

    return wait_until(done, timeout, f"{len(ids)} submission(s) to be graded", interval=POLL_S)  # type: ignore[return-value]


def latest_run(db, submission_id: int):  # type: ignore[no-untyped-def]
    """(started_at, duration_s) of the submission's latest grading run, or None."""
    from sqlalchemy import select

    from grader.db.models import GradingRun

    db.rollback()
    return db.execute(select(GradingRun.started_at, GradingRun.duration_s)
                      .where(GradingRun.submission_id == submission_id)
                      .order_by(GradingRun.id.desc()).limit(1)).first()
