"""The heartbeat of the attempts being graded in this process: a claim whose heartbeat goes
stale may be taken over (grader.services.claims)."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator

from sqlalchemy import update

from grader.db.base import utcnow
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.services.claims import Claim
from grader.services.faults import INFRASTRUCTURE_ERRORS

log = logging.getLogger(__name__)


class Heartbeat:
    """Keeps the heartbeat of the claims being graded in this process fresh, from one thread that
    is started once (starting a thread per attempt is slow on a busy worker)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._claims: set[Claim] = set()
        self._lock = threading.Lock()
        self._beating = threading.Lock()  # held while beating, so a claim let go is beaten no more
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def keep(self, claim: Claim) -> Iterator[None]:
        """Beat for `claim` while the block runs, and not once after it."""
        with self._lock:
            self._claims.add(claim)
            if self._thread is None or not self._thread.is_alive():  # not started, or lost in a fork
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._claims.discard(claim)
            with self._beating:  # a beat of it already under way ends first
                pass

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            with self._beating:
                with self._lock:
                    claims = list(self._claims)
                for claim in claims:
                    self._beat(claim)

    @staticmethod
    def _beat(claim: Claim) -> None:
        try:
            with session_scope() as db:
                db.execute(
                    update(Submission.__table__)
                    .where(Submission.id == claim.submission_id, Submission.attempts == claim.attempt_no)
                    .values(heartbeat_at=utcnow())
                )
                db.commit()
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("heartbeat of submission %s failed: %s", claim.submission_id, exc)


@functools.lru_cache(maxsize=4)
def heartbeat(interval_s: float) -> Heartbeat:
    """This process's heartbeat thread for claims with leases of 3 x `interval_s`."""
    return Heartbeat(interval_s)
