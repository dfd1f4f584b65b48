"""One sandbox process and its channel: the module is loaded, calls go out and answers come back
as plain data, without ever blocking on a send (requests sent ahead and large answers cannot
deadlock), and what it prints is attributed to the question of the call that printed it."""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from grader.errors import StudentFault
from grader.rubric_spec import Limits
from grader.sandbox import scratch
from grader.sandbox.forkserver import ExitInfo, ForkServer
from grader.sandbox.messages import describe_error, describe_exit
from grader.sandbox.protocol import ProtocolError, decode, encode
from grader.sandbox.scratch import ScratchArea
from grader.sandbox.wire import take_message

SETUP_TIMEOUT_S = 30.0
RECV_CHUNK = 256 * 1024


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
    scratch: ScratchArea
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
        self.directory = spec.scratch.create(spec.uid, spec.gid)
        self.workdir = self.directory / "work"
        output = self.directory / "output.log"
        self._output_fd = os.open(output, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self.level = 0  # the highest secrecy of the questions whose calls it has been given
        self._owner: str | None = None  # the question of the call being answered, or of the import
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
        self._isolated = False  # its isolation report was received (`isolation`)
        self._setup_fault: str | None = None  # why none could be
        self._printed: list[Printed] | None = None

    @property
    def pid(self) -> int:
        if self._pid is None:
            self._pid = self.server.pid(self._ticket)
        return self._pid

    def begin_load(self, source: str, question: str | None = None) -> None:
        """Hand over the submission to import (once isolated); `finish_load` waits for the import.
        What the import prints belongs to `question`, the test it was started for (None: before
        any test): one started during a secret question's test must not print where students look."""
        self._owner = question
        path = self.workdir / f"{self.spec.module}.py"
        path.write_text(source)
        if os.geteuid() == 0:
            os.chown(path, self.spec.uid, self.spec.gid)
        self._outbox += encode({"load": path.name})
        self._send_queued()

    def isolation(self) -> dict[str, str]:
        """The layers it reported once isolated, before it was given any student code (waits
        for the report; StudentFault, every time, if none came)."""
        if not self._isolated and self._setup_fault is None:
            try:
                setup = self._receive(SETUP_TIMEOUT_S, "while the sandbox was set up")  # not the student's time
                if setup.get("isolated") is not True:
                    self.kill()
                    raise StudentFault("the sandbox sent malformed data while being set up")
                self.layers, self._isolated = dict(setup.get("layers", {})), True
            except StudentFault as exc:
                self._setup_fault = str(exc)
        if self._setup_fault is not None:
            raise StudentFault(self._setup_fault)
        return self.layers

    def finish_load(self, timeout: float) -> None:
        """Wait until the submission is imported; ImportFailed says why it could not be."""
        try:
            self.isolation()
            checked = self._receive(SETUP_TIMEOUT_S, "while the sandbox was set up")  # before any student code
            if list(checked) != ["workdir"]:
                self.kill()
                raise StudentFault("the sandbox sent malformed data while being set up")
            self.layers["workdir"] = str(checked["workdir"])
            hello = self._receive(timeout, "while being imported")
            self._attribute(hello.get("printed"))
        except (StudentFault, OSError) as exc:
            self.close()
            reason = str(exc) if isinstance(exc, StudentFault) else self._ended("while being imported")
            raise ImportFailed(reason) from None
        if "import_error" in hello:
            self.close()
            error = describe_error("the module", hello["import_error"])
            raise ImportFailed(f"importing the submission failed: {error}")
        if hello.get("ready") is not True:
            self.close()
            raise ImportFailed("the sandbox sent malformed data while being imported")

    def _receive(self, timeout: float, during: str) -> dict[str, Any]:
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
        well_formed = len(reply) == 1 and ("ok" in reply or type(reply.get("error")) is dict)
        if not (well_formed and list(marker) == ["printed"]):
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
