"""The fork-server template: one process that imports torch once and forks fork servers from it.

Every engine needs a fork server, and starting one is mostly importing torch. Where many engines
run on one machine (a worker's pool processes, a test session's workers), an engine can instead
ask this process, named by GRADER_SANDBOX_TEMPLATE, for a fork server: the template forks one
that is already prepared (grader.sandbox.forkserver_process.prepare), and the torch pages stay
shared between all of them.

Whatever starts it, it first executes itself again as a fork server is started: the fixed
environment SERVER_ENV, in /, with no inherited file but stderr (so nothing of its starter's
environment is left in the memory its servers' sandboxes inherit), and like a fork server it
never imports the rubric, the reference or settings. Its socket is made by its own user, only for
that user (no access for group or others, and each peer's uid is checked again), so a sandbox
(another uid, in an empty network namespace) cannot reach it; an engine in turn gives its control
socket only to a template of its own user, and accepts only a child of it as its server. Each
server it forks leaves its process group and session, so stopping the template (its group) ends
no engine's server: each ends with its engine.

Protocol (SOCK_SEQPACKET, one connection per fork server): the engine sends one packet carrying
the new server's control socket as an SCM_RIGHTS descriptor; the template answers with the
server's pid and a pidfd, by which the engine, not its parent, sees it exit. The server lives
until the engine closes its control socket, as one the engine started would.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from grader.sandbox.forkserver_process import SERVER_ENV, prepare, serve_prepared

REQUEST_PACKET = 64


def peer(connection: socket.socket) -> tuple[int, int]:
    """The pid and uid of the process at the other end of a Unix socket (as the kernel saw it)."""
    creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", creds)
    return int(pid), int(uid)


def _become_server(listener: socket.socket, connection: socket.socket, control_fd: int, wake_r: int) -> NoReturn:
    """In the forked child: drop what is the template's, then serve as any fork server does."""
    code = 1
    try:
        os.setsid()
        wake_w = signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for held in (listener, connection):
            held.close()
        for fd in (wake_r, wake_w):
            os.close(fd)
        serve_prepared(socket.socket(fileno=control_fd))
        code = 0
    except BaseException:  # noqa: BLE001 - said where a server started cold would say it, then exit
        traceback.print_exc()
    finally:
        os._exit(code)


def _answer(listener: socket.socket, connection: socket.socket, wake_r: int) -> None:
    with connection:
        if peer(connection)[1] != os.geteuid():
            return  # closed without an answer: the engine starts its own server
        connection.settimeout(1)  # one engine that stalls must not hold up the others
        _, fds, _, _ = socket.recv_fds(connection, REQUEST_PACKET, 1)
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return
        pid = os.fork()
        if pid == 0:
            _become_server(listener, connection, fds[0], wake_r)
        os.close(fds[0])
        pidfd = os.pidfd_open(pid)  # before any reaping, so it names this child and no later one
        try:
            socket.send_fds(connection, [str(pid).encode()], [pidfd])
        finally:
            os.close(pidfd)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def serve(path: Path) -> None:
    """Listen on `path` and fork a prepared fork server for each engine that asks, until SIGTERM."""
    prepare()
    umask = os.umask(0o077)  # for the socket only: the servers and their sandboxes get the usual one
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    binding = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(str(binding))
    os.umask(umask)
    listener.listen(16)
    ours = os.stat(binding).st_ino
    binding.rename(path)  # the path appears once it is answered, never half ready
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is for the engine, which closes its servers
    try:
        while True:
            watched: list[socket.socket | int] = [listener, wake_r]
            ready, _, _ = select.select(watched, [], [])
            if wake_r in ready:
                os.read(wake_r, 4096)
                _reap()
            if listener in ready:
                connection, _ = listener.accept()
                with contextlib.suppress(OSError):
                    _answer(listener, connection, wake_r)
    finally:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == ours:  # not a newer template's, started on the same path
                path.unlink()


CLEAN = "--started-clean"


def start_clean(path: Path) -> NoReturn:
    """Execute this module again with SERVER_ENV, in /, with stdin and stdout on /dev/null and no
    other inherited file than stderr: the state every server it forks starts from."""
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1):
        os.dup2(null, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.execve(sys.executable, [sys.executable, "-m", "grader.sandbox.template", CLEAN, str(path.absolute())],
              SERVER_ENV)


if __name__ == "__main__":
    if sys.argv[1:2] != [CLEAN]:
        start_clean(Path(sys.argv[1]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(Path(sys.argv[2]))
