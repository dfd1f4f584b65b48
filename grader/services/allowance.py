"""What a student may still upload to an assignment: the last time to upload (for assignments that
refuse late work: the due date or the student's extension, the late windows and the grace days
left), the submission limit and the cooldown between two uploads.

The upload checks it (and refuses with the reason), the assignment page shows it, so the two can
never disagree: "3 of 3 used" and a form that still takes a file cannot happen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, Submission, User
from grader.services.errors import Rejected, TryLater
from grader.services.standings import uploads_close_at


def duration(seconds: int) -> str:
    """'1 hour 5 minutes', '45 seconds': for messages people read."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "hour"), (minutes, "minute")] if hours else [(minutes, "minute"), (secs, "second")]
    words = [f"{count} {unit}{'' if count == 1 else 's'}" for count, unit in parts if count]
    return " ".join(words) or "0 seconds"


@dataclass(frozen=True)
class Allowance:
    used: int
    limit: int | None  # None: unlimited
    cooldown_s: int | None
    wait_s: int  # until the cooldown since the last upload ends; 0: none
    next_at: datetime | None  # when the cooldown ends, while it lasts
    due_at: datetime | None
    closes_at: datetime | None  # the last time to upload; None: late uploads are taken
    closed: bool  # past it

    @property
    def left(self) -> int | None:
        """Submissions left (never negative, also after the limit was lowered); None: unlimited."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def limit_reached(self) -> bool:
        return self.left == 0

    def refusal(self) -> Rejected | None:
        """Why an upload now is refused (409 closed, 429 limit or cooldown), or None."""
        if self.closed and self.closes_at is not None:
            return Rejected(409, f"the last time to upload ({self.closes_at:%Y-%m-%d %H:%M} UTC: the due date, its "
                                 "late windows and your grace days) has passed")
        if self.limit_reached:
            return Rejected(429, f"you have used all {self.limit} submissions for this assignment")
        if self.wait_s and self.cooldown_s:
            return TryLater(self.wait_s, f"please wait {duration(self.wait_s)} before submitting again: this "
                                         f"assignment takes one submission every {duration(self.cooldown_s)}")
        return None


def allowance(db: Session, user: User, assignment: Assignment, now: datetime,
              excluding: int | None = None) -> Allowance:
    """The student's allowance at `now`, counting their uploads except `excluding` (the one being made)."""
    query = select(func.count(), func.max(Submission.created_at)).where(
        Submission.assignment_id == assignment.id, Submission.user_id == user.id
    )
    if excluding is not None:
        query = query.where(Submission.id != excluding)
    used, last_at = db.execute(query).one()
    closes_at = uploads_close_at(db, assignment, user)
    next_at = last_at + timedelta(seconds=assignment.cooldown_s) if last_at and assignment.cooldown_s else None
    wait_s = math.ceil((next_at - now).total_seconds()) if next_at is not None and next_at > now else 0
    return Allowance(
        used=used, limit=assignment.max_submissions, cooldown_s=assignment.cooldown_s, wait_s=wait_s,
        next_at=next_at if wait_s else None, due_at=assignment.due_at, closes_at=closes_at,
        closed=closes_at is not None and now > closes_at,
    )
