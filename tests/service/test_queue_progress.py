"""Whether queued work waits its turn on a queue, from what workers did on it lately."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grader.db.base import utcnow
from grader.services.queue_progress import Activity

SENT = utcnow()  # when the queued work was last sent
WINDOW = SENT + timedelta(minutes=10)  # the reconciler's window starts then (it waited that long)


@pytest.mark.parametrize("lately, waits", [
    (Activity(running=True), True),  # a worker grades the queue's work now
    (Activity(last_taken=WINDOW, last_claimed_send=SENT - timedelta(seconds=1)), True),  # it took earlier work
    (Activity(last_taken=WINDOW - timedelta(seconds=1)), False),  # nothing taken in the window: nobody takes it
    (Activity(last_taken=WINDOW, last_claimed_send=SENT + timedelta(seconds=1), running=True), False),  # went past
    (Activity(), False),
], ids=["running", "claimed-in-window", "quiet-window", "went-past", "nothing"])
def test_work_waits_its_turn_only_while_workers_take_earlier_work(lately: Activity, waits: bool) -> None:
    assert lately.waits_its_turn(SENT, WINDOW) is waits
