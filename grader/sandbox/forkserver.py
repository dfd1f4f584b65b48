"""The engine's handle on its fork server (grader.sandbox.forkserver_process): it starts that
process from a clean environment, or has a template fork it (grader.sandbox.template), asks it
for sandboxes and hears when they exit."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox.forkserver_process import CONTROL_PACKET, SERVER_ENV
from grader.sandbox.process_identity import parent
from grader.sandbox.template import REQUEST_PACKET, peer

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ExitInfo:
    status: int
    oom: bool


class ForkServerDied(RuntimeError):
    pass


class _Started:
    """A fork server this process started: its child, reaped here."""

    def __init__(self, control: socket.socket) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.forkserver_process", str(control.fileno())],
            pass_fds=[control.fileno()], env=SERVER_ENV, cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def end(self, grace: float) -> None:
        """Wait up to `grace` seconds for it to exit (its control socket is closed), then kill it."""
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class _Forked:
    """A fork server a template forked: the template's child, watched here through its pidfd."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd

    def _exited(self, timeout: float) -> bool:
        if self._pidfd < 0:
            return True
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)
        return bool(poller.poll(int(timeout * 1000)))

    def alive(self) -> bool:
        return not self._exited(0)

    def end(self, grace: float) -> None:
        """Wait up to `grace` seconds for it to exit (its control socket is closed), then kill it."""
        if self._pidfd < 0:
            return
        try:
            if not self._exited(grace):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                self._exited(5)
        finally:
            os.close(self._pidfd)
            self._pidfd = -1


def _from_template(template: Path, control: socket.socket) -> _Forked:
    """Ask the template at `template` to fork a fork server serving `control`. Only a template of
    this process's own user is given the socket, and only a child of that template is accepted."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.settimeout(30)
        connection.connect(str(template))
        template_pid, uid = peer(connection)
        if uid != os.geteuid():
            raise PermissionError(f"it is run by uid {uid}, not {os.geteuid()}")
        socket.send_fds(connection, [b"fork"], [control.fileno()])
        data, fds, _, _ = socket.recv_fds(connection, REQUEST_PACKET, 1)
    if len(fds) != 1 or not data.isdigit():
        for fd in fds:
            os.close(fd)
        raise ConnectionError("the template refused")
    forked = _Forked(int(data), fds[0])
    try:
        if parent(forked.pid) != template_pid:
            raise ConnectionError(f"process {forked.pid} is not the template's child")
    except OSError:
        forked.end(grace=0)
        raise
    return forked


class ForkServer:
    """The engine's handle on its fork server process: forked by the template at `template` where
    one is named and answers, else started here."""

    def __init__(self, template: Path | None = None) -> None:
        forked = self._forked(template) if template is not None else None
        self._control, self.process = forked or self._started()
        self._next_id = 0
        self._exits: dict[int, ExitInfo] = {}
        self._spawned: dict[int, int | str] = {}

    @staticmethod
    def _started() -> tuple[socket.socket, _Started | _Forked]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        started = _Started(theirs)
        theirs.close()
        return ours, started

    @staticmethod
    def _forked(template: Path) -> tuple[socket.socket, _Started | _Forked] | None:
        """A control socket and a server the template forked for it; None, and why is logged, when
        it does not. A failed attempt's socket is dropped, never reused: a server the template
        forked anyway sees it closed and ends, instead of serving next to the one started here."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            return ours, _from_template(template, theirs)
        except OSError as exc:
            log.warning("no fork server from the template at %s (%s): starting one here", template, exc)
            ours.close()
            return None
        finally:
            theirs.close()

    def alive(self) -> bool:
        return self.process.alive()

    def spawn(self, channel: socket.socket, request: dict[str, Any]) -> int:
        """Ask for a sandbox wired to `channel`; returns a ticket for `pid` (the server forks
        meanwhile: the caller need not wait for it)."""
        from grader.sandbox.protocol import encode

        self._next_id += 1
        socket.send_fds(self._control, [encode({**request, "id": self._next_id})], [channel.fileno()])
        return self._next_id

    def pid(self, ticket: int) -> int:
        """The pid of the sandbox a `spawn` asked for, once the server has forked it."""
        while ticket not in self._spawned:
            self._receive(timeout=30)
        outcome = self._spawned.pop(ticket)
        if isinstance(outcome, str):
            raise ForkServerDied(f"the fork server could not start a sandbox: {outcome}")
        return outcome

    def wait_exit(self, pid: int, timeout: float) -> ExitInfo | None:
        """The exit of sandbox `pid` once the server has reaped it (None if not within `timeout`)."""
        deadline = time.monotonic() + timeout
        while pid not in self._exits:
            try:
                self._receive(timeout=max(deadline - time.monotonic(), 0))
            except TimeoutError:
                return None
        return self._exits.pop(pid)

    def _receive(self, timeout: float) -> None:
        from grader.sandbox.protocol import decode

        ready, _, _ = select.select([self._control], [], [], timeout)
        if not ready:
            raise TimeoutError("no answer from the fork server")
        data = self._control.recv(CONTROL_PACKET)
        if not data:
            raise ForkServerDied("the fork server exited")
        message = decode(data)
        if "exited" in message:
            self._exits[int(message["exited"])] = ExitInfo(int(message["status"]), bool(message["oom"]))
        elif "id" in message:
            spawned = int(message["spawned"]) if "spawned" in message else str(message["spawn_failed"])
            self._spawned[int(message["id"])] = spawned

    def close(self) -> None:
        self._control.close()
        self.process.end(grace=5)
