"""The trusted stand-in for a student's module: each attribute call runs in a sandbox.

`SubmissionSandbox` owns the sandboxes of one submission. A crash, timeout or exit fails the
call that caused it with a clear reason, and the next call starts a fresh sandbox, so a student
who breaks one question keeps the points of the others. Results come back as plain data only.
Calls that every run of the rubric makes are sent ahead of the tests (see `call_plan`); each
sandbox process and its channel is a `channel.Sandbox`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from grader.errors import StudentFault
from grader.rubric_spec import Limits, Question
from grader.sandbox.call_plan import CallPlan, MadeCall
from grader.sandbox.channel import ImportFailed, Printed, Sandbox
from grader.sandbox.protocol import encode


class SubmissionSandbox:
    """All sandboxes of one submission: a fresh one after each crash, a submission-wide deadline,
    and the calls the rubric's `plan` says will follow sent ahead of the tests.

    A sandbox never answers a call of a question less secret than one it has answered (visible <
    after_due_date < hidden): student code that remembers a hidden test's inputs cannot show
    them in a visible question's output or answers, since that one runs in a fresh sandbox. The
    rubric runs its tests least secret first, so this costs a fresh sandbox only when it must.
    """

    def __init__(self, source: str, limits: Limits, new_sandbox: Callable[[], Sandbox],
                 plan: CallPlan | None = None) -> None:
        self.source, self.limits, self._new_sandbox = source, limits, new_sandbox
        self.plan = plan or CallPlan()
        self.made: list[MadeCall] = []  # every call the tests made, in order (what a plan learns)
        self._loaded = False
        self._cursor = 0  # where in the plan the next call is expected
        self._aligned = True  # whether the run is at `_cursor` (False right after it left the plan)
        self.deadline = time.monotonic() + limits.submission_timeout_s
        self._sandbox: Sandbox | None = None
        self._printed: list[Printed] = []
        self._stopped: list[Sandbox] = []  # killed, not yet reaped
        self._question: str | None = None  # the question whose test is running
        self._secrecy = 0  # of that question
        self._secrecy_of: dict[str | None, int] = {None: 0}  # by question whose test ran (None: outside calls)
        self._calls_in_test = 0
        self._import_failure: str | None = None
        self.layers: dict[str, str] = {}

    def _timeout(self, limit: float | None = None) -> float:
        """What is left of `limit` (a call's, unless given) within the submission's time."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StudentFault(f"the submission used up its {self.limits.submission_timeout_s:g} s time limit")
        return min(self.limits.call_timeout_s if limit is None else limit, left)

    def begin(self) -> Sandbox:
        """The live sandbox, or a fresh one set importing the submission and sent the calls the
        plan says come next; returns without waiting (the tests' set-up runs meanwhile)."""
        if self._sandbox is None or self._sandbox.dead:
            self._retire()
            self._sandbox = self._new_sandbox()
            self._loaded = False
            self._sandbox.begin_load(self.source, self._question)
            if self._aligned:
                self._sandbox.send(self.plan.run_from(self._cursor))
        return self._sandbox

    def start(self) -> Sandbox:
        """The live sandbox with the module imported (started if there is none).

        `layers` reports only on a sandbox that was waited for: one taken when no time is left
        never said whether it can read its file, which the engine would take for a machine fault."""
        if self._import_failure:
            raise StudentFault(self._import_failure)
        self._timeout()  # no fresh sandbox, nor student code in it, once the time is up
        sandbox = self.begin()
        if not self._loaded:
            timeout = self._timeout(self.limits.import_timeout_s)  # it may have run out while one was vetted
            try:
                sandbox.finish_load(timeout)
            except ImportFailed as exc:
                self._import_failure = str(exc)
                raise
            finally:
                self.layers = sandbox.layers
            self._loaded = True
        return sandbox

    def begin_test(self, question: Question) -> None:
        """A test of `question` starts: its calls are attributed to it, and kept from sandboxes
        that have served a more secret question."""
        self._question, self._secrecy, self._calls_in_test = question.id, question.secrecy, 0
        self._secrecy_of[question.id] = question.secrecy

    def call(self, function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = encode({"fn": function, "args": list(args), "kwargs": kwargs})
        may_go_ahead = self._secrecy == 0 and self._calls_in_test == 0
        self._calls_in_test += 1
        if self._sandbox is not None and self._sandbox.level > self._secrecy:
            self._retire()
        try:
            sandbox = self._sandbox_for(request)
        finally:
            self.made.append(MadeCall(request, may_go_ahead))
        sandbox.level = max(sandbox.level, self._secrecy)
        return sandbox.result(function, self._timeout(), self._question)

    def _sandbox_for(self, request: bytes) -> Sandbox:
        """The live sandbox with `request` next in line: sent ahead already, or sent now with the
        calls the plan says follow it."""
        sandbox = self.start()
        if sandbox.next_request not in (None, request):
            # It was sent calls this run does not make (a test stopped before its call): whatever
            # they do must not touch this call, so a fresh sandbox takes over, as after a crash.
            self._aligned = False
            self._retire()
            sandbox = self.start()
        if sandbox.next_request is not None:
            self._cursor += 1  # it was sent ahead
            return sandbox
        found = self.plan.find(request, self._cursor)
        if found is None:  # made live only: the plan goes on after it
            sandbox.send([request])
        else:
            sandbox.send([request, *self.plan.run_from(found + 1)])
            self._cursor, self._aligned = found + 1, True
        return sandbox

    def _retire(self) -> None:
        if self._sandbox is not None:
            self._printed += self._sandbox.close()
            self._sandbox = None

    def stop(self) -> None:
        """Kill the live sandbox: nothing of the submission runs after this. `close` waits until
        it is gone, so a caller can do other work while the kernel tears it down."""
        if self._sandbox is not None:
            self._printed += self._sandbox.stop()
            self._stopped.append(self._sandbox)
            self._sandbox = None

    def printed(self) -> dict[str | None, str]:
        """What the submission printed, by the question whose call printed it (None: outside any
        call, while being imported): `max_output_kb` of it in all (call after `stop`)."""
        kept = self._kept()
        parts: dict[str | None, bytes] = {}
        cut: set[str | None] = set()
        for part, text in zip(self._printed, kept, strict=True):
            parts[part.question] = parts.get(part.question, b"") + text
            if len(text) < part.size:
                cut.add(part.question)
        note = f"[output cut: only the last {self.limits.max_output_kb} KB a submission prints are kept]\n"
        return {question: (note if question in cut else "") + text.decode("utf-8", "replace")
                for question, text in parts.items()}

    def _kept(self) -> list[bytes]:
        """What is kept of each part printed: the output limit goes to the least secret output
        first (outside calls and visible questions, then after_due_date, then hidden), so how much
        of what a student sees is cut never tells them how much a question they may not see
        printed. Within a level the latest output is kept, as a terminal would."""
        left = self.limits.max_output_kb * 1024
        kept = [b""] * len(self._printed)
        order = sorted(range(len(self._printed)),
                       key=lambda index: (self._secrecy_of[self._printed[index].question], -index))
        for index in order:
            text = self._printed[index].text
            kept[index] = text[max(len(text) - left, 0):]
            left -= len(kept[index])
        return kept

    def close(self) -> None:
        self.stop()
        for sandbox in self._stopped:
            sandbox.close()
        self._stopped.clear()


class StudentModule:
    """What rubric tests see as `student`: `student.f(*args)` calls f in the sandbox."""

    def __init__(self, sandbox: SubmissionSandbox) -> None:
        self._sandbox = sandbox

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._sandbox.call(name, args, kwargs)

        call.__name__ = name
        return call
