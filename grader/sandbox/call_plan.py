"""Which student calls a rubric version makes, so a sandbox can be sent them before the tests ask.

Rubric tests call the student's functions one at a time and wait for each answer; sent one by one,
the sandbox sits idle while the trusted side checks an answer, and the trusted side idles while
the sandbox computes (two process wake-ups per call). A rubric version's tests ask for the same
calls with the same inputs for every submission, so once the calls are known they can all be sent
at once: the sandbox works through them while the tests check the answers that came back.

Student code can read a request as soon as it is sent (peeking at its channel), so a call may go
ahead only if its inputs are rubric constants that the student may see anyway: it belongs to a
`visible` question, it is the first student call of its test (no student answer has come back in
that test, so none can be in its inputs), and two runs in a row made it byte for byte (an unseeded
input differs). Whether two runs agree proves nothing on its own: two correct students give the
same answers, and an input built from one of them would reach the next student. Everything else
is sent live, by the test that makes it.

Sending ahead never changes a score: every answer is still checked by the test that asked for it,
and a sandbox that was sent calls the run does not make is replaced by a fresh one before the
next call (see `SubmissionSandbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MadeCall:
    """One call request a run made, and whether its inputs are known to be rubric constants of a
    visible question (the first student call of a visible question's test)."""

    request: bytes
    may_go_ahead: bool


class CallPlan:
    """The encoded call requests of one rubric version, learned from the runs graded so far."""

    def __init__(self) -> None:
        self._last: list[bytes] = []
        self.ahead: list[bytes | None] = []  # position -> request to send ahead (None: send it live)

    def learn(self, made: Sequence[MadeCall]) -> None:
        """Take in the calls one run made, in order."""
        self.ahead = [call.request if call.may_go_ahead and i < len(self._last) and self._last[i] == call.request
                      else None for i, call in enumerate(made)]
        self._last = [call.request for call in made]

    def run_from(self, index: int) -> list[bytes]:
        """The requests to send ahead from `index` on: up to the next one made live."""
        run: list[bytes] = []
        for request in self.ahead[index:]:
            if request is None:
                break
            run.append(request)
        return run

    def find(self, request: bytes, start: int) -> int | None:
        """Where `request` is in the plan, at `start` or later (None: it is made live only)."""
        for index in range(start, len(self.ahead)):
            if self.ahead[index] == request:
                return index
        return None
