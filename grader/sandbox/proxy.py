"""The trusted stand-in for a student's module: each attribute call runs in a sandbox.

`SubmissionSandbox` owns the sandboxes of one submission. A crash, timeout or exit fails the
call that caused it with a clear reason, and the next call starts a fresh sandbox, so a student
who breaks one question keeps the points of the others. Results come back as plain data only.
Calls that every run of the rubric makes are sent ahead of the tests (see `call_plan`); the
channel never blocks on sending, so requests sent ahead and large answers cannot deadlock.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.errors import StudentFault
from grader.rubric_spec import Limits, Question
from grader.sandbox import scratch
from grader.sandbox.call_plan import CallPlan, MadeCall
from grader.sandbox.forkserver import ExitInfo, ForkServer
from grader.sandbox.protocol import ProtocolError, decode, encode
from grader.sandbox.wire import take_message

SETUP_TIMEOUT_S = 30.0
RECV_CHUNK = 256 * 1024


def describe_exit(info: ExitInfo | None, limits: Limits, during: str) -> str:
    """A student-facing sentence for how a sandbox ended."""
    if info is None:
        return f"the sandbox stopped responding {during}"
    if info.oom:
        return f"ran out of memory {during} (limit {limits.memory_mb} MB)"
    if os.WIFSIGNALED(info.status):
        number = os.WTERMSIG(info.status)
        if number == signal.SIGXCPU:
            return f"used more than {limits.cpu_time_s:g} s of CPU time {during}"
        if number == signal.SIGXFSZ:
            return f"wrote a file larger than {limits.max_file_mb} MB {during}"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"was killed by signal {number} ({name}) {during}"
    return f"exited with status {os.WEXITSTATUS(info.status)} {during}"


def describe_error(function: str, error: object) -> str:
    """A student-facing sentence for an error the sandbox reported (which it may have forged)."""
    if type(error) is not dict:
        return f"the sandbox sent malformed data in {function}"
    kind, message, where = (str(error.get(key, "")) for key in ("type", "message", "where"))
    if kind == "NotImplementedError":
        return f"{function} is not implemented (it raised NotImplementedError{where})"
    if kind in ("missing", "not plain data"):
        return message
    if kind == "SystemExit":
        return f"{function} called exit({message}){where}"
    return f"{function} raised {kind}: {message}{where}"


class ImportFailed(StudentFault):
    """The module could not be imported; that is deterministic, so the session stops retrying."""


@dataclass(frozen=True)
class Printed:
    """What one sandbox printed while answering calls of one question (None: while importing):
    `text` is the end of it, at most the rubric's output limit; `size` what was really printed."""

    question: str | None
    text: bytes
    size: int


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox is made for; a spare serves a submission only if its spec matches."""

    module: str
    limits: Limits
    device: str
    root: Path
    uid: int
    gid: int
    threads: int


class Sandbox:
    """One forked sandbox process: isolated first, then given one submission's module to serve.

    It owns a directory (root-owned, 0711) holding the captured output and its scratch `work/`
    (the only place it may write). What it prints is attributed to the question of the call that
    printed it, so that a student sees only the output of questions they may see.
    """

    def __init__(self, server: ForkServer, spec: SandboxSpec) -> None:
        self.server, self.spec = server, spec
        self.directory = scratch.ScratchArea.of(spec.root).create(spec.uid, spec.gid)
        self.workdir = self.directory / "work"
        output = self.directory / "output.log"
        self._output_fd = os.open(output, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self.level = 0  # the highest secrecy of the questions whose calls it has been given
        self._owner: str | None = None  # the question of the call being answered (None: the import)
        self._printed_to = 0  # captured output up to here is attributed
        self._attributed: list[tuple[str | None, int, int]] = []  # (question, start, end) in the output
        request = {
            "workdir": str(self.workdir), "output": str(self.directory / "output.log"), "module": spec.module,
            "limits": asdict(spec.limits), "device": spec.device, "threads": spec.threads,
            "uid": spec.uid, "gid": spec.gid,
        }
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self.channel = ours
        self._outbox = bytearray()  # bytes queued for the sandbox, sent while waiting for replies
        self._inbox = bytearray()  # bytes received, not yet a whole message
        self._scratch = memoryview(bytearray(RECV_CHUNK))
        self._in_flight: deque[bytes] = deque()  # requests sent whose answers are still to be read
        try:
            self._ticket = server.spawn(theirs, request)
        finally:
            theirs.close()
        self._pid: int | None = None
        self.dead = False
        self._reaped = False
        self._exit: ExitInfo | None = None
        self.layers: dict[str, str] = {}
        self._printed: list[Printed] | None = None

    @property
    def pid(self) -> int:
        if self._pid is None:
            self._pid = self.server.pid(self._ticket)
        return self._pid

    def begin_load(self, source: str) -> None:
        """Hand over the submission to import (once isolated); `finish_load` waits for the import."""
        path = self.workdir / f"{self.spec.module}.py"
        path.write_text(source)
        if os.geteuid() == 0:
            os.chown(path, self.spec.uid, self.spec.gid)
        self._outbox += encode({"load": path.name})
        self._send_queued()

    def finish_load(self, timeout: float) -> None:
        """Wait until the submission is imported; ImportFailed says why it could not be."""
        try:
            setup = self._receive(SETUP_TIMEOUT_S, "while the sandbox was set up")  # not the student's time
            if setup.get("isolated") is not True:
                raise StudentFault("the sandbox sent malformed data while being set up")
            self.layers = dict(setup.get("layers", {}))
            hello = self._receive(timeout, "while being imported")
            self._attribute(hello.get("printed"))
        except (StudentFault, OSError) as exc:
            self.close()
            raise ImportFailed(str(exc) if isinstance(exc, StudentFault) else self._ended("while being imported")) from None
        if "import_error" in hello:
            self.close()
            raise ImportFailed(f"importing the submission failed: {describe_error('the module', hello['import_error'])}")
        if hello.get("ready") is not True:
            self.close()
            raise ImportFailed("the sandbox sent malformed data while being imported")

    def _receive(self, timeout: float, during: str) -> dict:
        deadline = time.monotonic() + timeout
        try:
            message = decode(self._next_message(deadline))
            if time.monotonic() > deadline:  # decoding is the call's time too
                raise TimeoutError
        except TimeoutError:
            self.kill()
            raise StudentFault(f"timed out after {timeout:g} s {during}") from None
        except (EOFError, ConnectionError):
            raise StudentFault(self._ended(during)) from None
        except ProtocolError as exc:
            self.kill()
            raise StudentFault(f"the sandbox sent malformed data {during}: {exc}") from None
        if type(message) is not dict:
            self.kill()
            raise StudentFault(f"the sandbox sent malformed data {during}")
        return message

    def _next_message(self, deadline: float) -> bytes:
        """The next whole message, sending what is queued meanwhile (never blocking on a send)."""
        poller = select.poll()
        while (message := take_message(self._inbox)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            poller.register(self.channel, select.POLLIN | (select.POLLOUT if self._outbox else 0))
            events = dict(poller.poll(left * 1000)).get(self.channel.fileno(), 0)
            if events & select.POLLOUT:
                self._send_queued()
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    received = self.channel.recv_into(self._scratch)
                except BlockingIOError:
                    continue
                if not received:
                    raise EOFError("the sandbox closed the channel")
                self._inbox += self._scratch[:received]
        return message

    def _send_queued(self) -> None:
        try:
            sent = self.channel.send(self._outbox)
        except BlockingIOError:
            return
        except OSError:  # the sandbox is gone; reading will say how it ended
            self._outbox.clear()
            return
        del self._outbox[:sent]

    def send(self, requests: list[bytes]) -> None:
        """Send call requests (encoded {"fn", "args", "kwargs"}) without waiting; `result` reads
        their answers in order."""
        for request in requests:
            self._outbox += request
            self._in_flight.append(request)
        self._send_queued()

    @property
    def next_request(self) -> bytes | None:
        """The oldest request sent whose answer is still to be read."""
        return self._in_flight[0] if self._in_flight else None

    def _ended(self, during: str) -> str:
        self.dead = True
        return describe_exit(self.reap(), self.spec.limits, during)

    def result(self, function: str, timeout: float, question: str | None) -> Any:
        """The answer to the oldest request sent (a call of `function` made by a test of
        `question`), within `timeout` seconds."""
        during = f"in {function}()"
        self._owner = question
        self._in_flight.popleft()
        reply = self._receive(timeout, during)
        marker = self._receive(timeout, during)
        if not (len(reply) == 1 and ("ok" in reply or type(reply.get("error")) is dict) and list(marker) == ["printed"]):
            self.kill()  # whatever follows in its stream cannot be matched to calls any more
            raise StudentFault(f"the sandbox sent malformed data {during}")
        self._attribute(marker["printed"])
        if "error" in reply:
            raise StudentFault(describe_error(f"{function}()", reply["error"]))
        return reply["ok"]

    def _attribute(self, reported: object) -> None:
        """What was printed since the last answer belongs to the call just answered. The child
        says where that call's output ends (later calls sent ahead may be printing already); it is
        believed only between what was attributed and what the file holds now, so it can move
        output between calls sent ahead (all of visible questions) but not into an earlier one."""
        size = os.fstat(self._output_fd).st_size
        end = min(max(reported, self._printed_to), size) if type(reported) is int else size
        self._attributed.append((self._owner, self._printed_to, end))
        self._printed_to = end

    def _read_printed(self) -> list[Printed]:
        """The captured output by question, each part cut to its last `max_output_kb`; what is
        not attributed yet belongs to the call in progress (the most secret one it was given)."""
        self._attribute(None)
        limit = self.spec.limits.max_output_kb * 1024
        return [Printed(question, os.pread(self._output_fd, min(end - start, limit), max(start, end - limit)),
                        end - start)
                for question, start, end in self._attributed if end > start]

    def kill(self) -> None:
        if not self.dead:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.dead = True

    def reap(self) -> ExitInfo | None:
        """How it ended, once the fork server has reaped it (and killed anything it left)."""
        if not self._reaped:
            self._reaped = True
            self._exit = self.server.wait_exit(self.pid, timeout=5)
        return self._exit

    def stop(self) -> list[Printed]:
        """Kill it, so that it runs nothing more; what it printed (`close` waits until it is gone)."""
        if self._printed is None:
            self.channel.close()
            self.kill()
            try:
                self._printed = self._read_printed()
            finally:
                os.close(self._output_fd)
        return self._printed

    def close(self) -> list[Printed]:
        """Kill it, wait until it is gone, remove its files; returns what it printed."""
        printed = self.stop()
        self.reap()
        scratch.remove(self.directory)
        return printed


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
        self._calls_in_test = 0
        self._import_failure: str | None = None
        self.layers: dict[str, str] = {}

    def _timeout(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StudentFault(f"the submission used up its {self.limits.submission_timeout_s:g} s time limit")
        return min(self.limits.call_timeout_s, left)

    def begin(self) -> Sandbox:
        """The live sandbox, or a fresh one set importing the submission and sent the calls the
        plan says come next; returns without waiting (the tests' set-up runs meanwhile)."""
        if self._sandbox is None or self._sandbox.dead:
            self._retire()
            self._sandbox = self._new_sandbox()
            self._loaded = False
            self._sandbox.begin_load(self.source)
            if self._aligned:
                self._sandbox.send(self.plan.run_from(self._cursor))
        return self._sandbox

    def start(self) -> Sandbox:
        """The live sandbox with the module imported (started if there is none)."""
        if self._import_failure:
            raise StudentFault(self._import_failure)
        sandbox = self.begin()
        if not self._loaded:
            try:
                sandbox.finish_load(self._timeout())
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

    def call(self, function: str, args: tuple, kwargs: dict) -> Any:
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
        call, while being imported): the last `max_output_kb` of it in all (call after `stop`)."""
        left = self.limits.max_output_kb * 1024
        parts: dict[str | None, bytes] = {}
        cut: set[str | None] = set()
        for part in reversed(self._printed):  # the latest output is kept, as a terminal would
            kept = part.text[len(part.text) - left:] if left else b""
            left -= len(kept)
            parts[part.question] = kept + parts.get(part.question, b"")
            if len(kept) < part.size:
                cut.add(part.question)
        note = f"[output cut: only the last {self.limits.max_output_kb} KB a submission prints are kept]\n"
        return {question: (note if question in cut else "") + text.decode("utf-8", "replace")
                for question, text in reversed(parts.items())}

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
