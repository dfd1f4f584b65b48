"""The engine's handle on its fork server (grader.sandbox.forkserver_process): it starts that
process from a clean environment, asks it for sandboxes and hears when they exit."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from grader.sandbox.forkserver_process import CONTROL_PACKET

SERVER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}


@dataclass(frozen=True)
class ExitInfo:
    status: int
    oom: bool


class ForkServerDied(RuntimeError):
    pass


class ForkServer:
    """The engine's handle on its fork server process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.forkserver_process", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=SERVER_ENV, cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self._next_id = 0
        self._exits: dict[int, ExitInfo] = {}
        self._spawned: dict[int, int | str] = {}

    def alive(self) -> bool:
        return self.process.poll() is None

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
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
