"""When each queue last moved: the latest time a worker took work from it.

A worker takes a submission by claiming it (a grading run on the device of the queue that
delivered it: broker.DEVICE_OF_QUEUE) and a similarity run by beginning it (the cpu queue). The
reconciler reads this to tell work waiting its turn behind a busy queue, as at a deadline, from
work that no worker takes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import GradingRun, SimilarityRun
from grader.services.broker import CPU_QUEUE, DEVICE_OF_QUEUE


def last_taken(db: Session) -> dict[str, datetime]:
    """Queue name -> when a worker last took work from it (absent: never)."""
    taken: dict[str, datetime] = {}
    for queue_name, device in DEVICE_OF_QUEUE.items():
        latest = db.scalar(select(func.max(GradingRun.started_at)).where(GradingRun.device == device))
        if latest is not None:
            taken[queue_name] = latest
    began = db.scalar(select(func.max(SimilarityRun.started_at)))
    if began is not None:
        taken[CPU_QUEUE] = max(began, taken.get(CPU_QUEUE, began))
    return taken


def moved_since(taken: dict[str, datetime], queue_name: str, since: datetime) -> bool:
    """Whether a worker took work from `queue_name` at or after `since` (by `last_taken`)."""
    latest = taken.get(queue_name)
    return latest is not None and latest >= since
