"""Which student calls a rubric version makes, so a sandbox can be sent them before the tests ask.

Rubric tests call the student's functions one at a time and wait for each answer; sent one by one,
the sandbox sits idle while the trusted side checks an answer, and the trusted side idles while
the sandbox computes (two process wake-ups per call). A rubric version's tests ask for the same
calls with the same inputs for every submission, so once the calls are known they can all be sent
at once: the sandbox works through them while the tests check the answers that came back.

A call is sent ahead only once two runs in a row made it byte for byte, so an input that varies
per submission (built from the previous student's answer, or unseeded) is always sent live, by
the test that makes it. Sending ahead never changes a score: every answer is still checked by the
test that asked for it, and a sandbox that was sent calls the run does not make is replaced by a
fresh one before the next call (see `SubmissionSandbox`).
"""

from __future__ import annotations

from collections.abc import Sequence


class CallPlan:
    """The encoded call requests of one rubric version, learned from the runs graded so far."""

    def __init__(self) -> None:
        self._last: list[bytes] = []
        self.ahead: list[bytes | None] = []  # position -> request to send ahead (None: send it live)

    def learn(self, made: Sequence[bytes]) -> None:
        """Take in the requests one run made, in order."""
        self.ahead = [request if i < len(self._last) and self._last[i] == request else None
                      for i, request in enumerate(made)]
        self._last = list(made)

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
