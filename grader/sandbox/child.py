"""The only code that runs next to student code: isolate this process, import, serve calls.

Runs in a process forked from the fork server. Order matters: cgroup, IPC namespace and output
redirection need root; then rlimits, the uid drop, Landlock (which also sets no_new_privs) and
seccomp; only then is the student's file imported. Every layer's result is reported to the
trusted side, which decides whether grading may go on without it.
"""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import socket
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from grader.rubric_spec import Limits
from grader.sandbox import landlock, namespaces, seccomp
from grader.sandbox.limits import SandboxCgroup, apply_rlimits
from grader.sandbox.protocol import MAX_DEPTH, ProtocolError, decode, encode
from grader.sandbox.wire import recv_message, send_message

MAX_TEXT = 500


@dataclass
class ChildSpec:
    """What the fork server tells a new sandbox (all plain data)."""

    workdir: Path
    output_path: Path
    module: str
    limits: Limits
    device: str
    threads: int
    uid: int
    gid: int
    read_paths: list[Path]
    device_paths: list[Path]
    cgroup: SandboxCgroup
    seccomp_filter: seccomp.SeccompFilter | None
    layers: dict[str, str] = field(default_factory=dict)


def _layer(spec: ChildSpec, name: str, action: Any) -> None:
    try:
        detail = action()
        spec.layers[name] = f"on{f' ({detail})' if detail else ''}"
    except Exception as exc:  # noqa: BLE001 - a missing layer is reported, and the trusted side decides
        spec.layers[name] = f"off: {exc}"


def _redirect_output(spec: ChildSpec) -> None:
    """stdout/stderr go to a root-owned file outside the student's directory, bounded by RLIMIT_FSIZE."""
    fd = os.open(spec.output_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    for stream in (sys.stdout, sys.stderr):
        # The interpreter's own streams, so TextIOWrappers; a killed sandbox keeps its output.
        cast(io.TextIOWrapper, stream).reconfigure(line_buffering=True, write_through=True)


def _drop_privileges(spec: ChildSpec) -> str:
    if os.geteuid() != 0:
        raise PermissionError("not root: cannot switch to the sandbox uid")
    os.setgroups([])
    os.setresgid(spec.gid, spec.gid, spec.gid)
    os.setresuid(spec.uid, spec.uid, spec.uid)
    return f"uid {spec.uid}"


def _own_ipc_namespace() -> str:
    """SysV shared memory, message queues and semaphores and POSIX message queues made in here are
    invisible to every other sandbox and go when this process ends."""
    namespaces.unshare(namespaces.CLONE_NEWIPC)
    return "own IPC namespace"


def _check_readable(filename: str) -> str:
    """The sandbox uid must read the file it was given before any student code runs: if it
    cannot, the sandbox root is misconfigured, a fault of the machine, never of the student."""
    os.close(os.open(filename, os.O_RDONLY))
    return f"uid {os.getuid()} reads its file"


def _scrub_environment(spec: ChildSpec) -> None:
    os.environ.clear()
    os.environ.update(
        HOME=str(spec.workdir), TMPDIR=str(spec.workdir), PATH="/usr/bin:/bin", LANG="C.UTF-8",
        OMP_NUM_THREADS=str(spec.threads), MKL_NUM_THREADS=str(spec.threads),
    )


def isolate(spec: ChildSpec, channel_fd: int) -> None:
    """Apply every isolation layer to this process, recording which ones took."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    _layer(spec, "cgroup", spec.cgroup.enter)
    _layer(spec, "ipc", _own_ipc_namespace)
    _redirect_output(spec)
    os.closerange(3, channel_fd)
    os.closerange(channel_fd + 1, 65536)
    _scrub_environment(spec)
    os.chdir(spec.workdir)
    apply_rlimits(spec.limits, cgroup_memory=spec.cgroup.memory is not None)
    spec.layers["rlimits"] = "on"
    _layer(spec, "uid", lambda: _drop_privileges(spec))
    _layer(spec, "landlock", lambda: f"ABI {landlock.restrict(spec.read_paths, [spec.workdir], spec.device_paths)}")
    _layer(spec, "seccomp", lambda: seccomp.install(spec.seccomp_filter))
    torch.set_num_threads(spec.threads)


def _where(exc: BaseException, filename: str) -> str:
    """Where in the student's file it happened, never where in ours."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return f" (line {lines[-1]} of {Path(filename).name})" if lines else ""


def _text(value: object) -> str:
    """str(value), shortened, as text the protocol carries: a plain str (whatever `__str__`
    returned) with any lone surrogate escaped."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a student's __str__ may raise; the error is still reported
        text = "<str() failed>"
    text = str.encode(text, "utf-8", "backslashreplace").decode()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _describe_error(exc: BaseException, filename: str) -> dict[str, Any]:
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return {"type": "SyntaxError",
                "message": f"{_text(exc.msg)} at line {_text(exc.lineno)} of {Path(filename).name}"}
    return {"type": _text(type(exc).__name__), "message": _text(exc), "where": _where(exc, filename)}


def import_student(spec: ChildSpec, source_name: str) -> Any:
    path = str(spec.workdir / source_name)
    sys.path.insert(0, str(spec.workdir))
    module_spec = importlib.util.spec_from_file_location(spec.module, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[spec.module] = module
    module_spec.loader.exec_module(module)
    return module


def _printed() -> int:
    """How far the captured output reaches now; sent after every answer so that the trusted side
    can attribute what each call printed to its question (it only trusts it within what it sees)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        return os.fstat(1).st_size
    except (OSError, ValueError):
        return -1


def serve(spec: ChildSpec, channel: socket.socket) -> None:
    """Report the isolation, wait for the submission, report whether it can be read, import it,
    then answer calls until the trusted side hangs up. The report comes before any student code
    is handed over, so the trusted side can refuse a sandbox that lacks a layer it requires. A
    spare sandbox waits isolated until a submission needs it."""
    send_message(channel, encode({"isolated": True, "layers": spec.layers}))
    try:
        source_name = str(decode(recv_message(channel))["load"])
    except (EOFError, ProtocolError, OSError, KeyError, TypeError):
        return
    filename = str(spec.workdir / source_name)
    _layer(spec, "workdir", lambda: _check_readable(filename))
    send_message(channel, encode({"workdir": spec.layers["workdir"]}))
    try:
        module = import_student(spec, source_name)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are student behaviour too
        send_message(channel, encode({"import_error": _describe_error(exc, filename), "printed": _printed()}))
        return
    send_message(channel, encode({"ready": True, "printed": _printed()}))
    while True:
        try:
            request = decode(recv_message(channel), device=spec.device)
        except (EOFError, ProtocolError, OSError):
            return
        answer = _answer(module, request, filename)
        send_message(channel, answer + encode({"printed": _printed()}))


def plain_sequences(value: Any, depth: int = 0) -> Any:
    """The value with every tuple or list subclass inside it (torch.Size, a namedtuple) made a plain
    tuple or list of its items, as the protocol carries them: a student who returns
    `conv(x).shape[1:]` returned a tuple. Their own methods are not called (the items are read with
    the base class's iterator); anything else is left for the encoder to judge."""
    if depth > MAX_DEPTH:
        return value
    kind = type(value)  # never value.__class__, which the student's class may fake
    if issubclass(kind, (tuple, list)):
        base = tuple if issubclass(kind, tuple) else list
        items = [plain_sequences(item, depth + 1) for item in base.__iter__(value)]
        return tuple(items) if base is tuple else items
    if kind is dict:
        return {key: plain_sequences(item, depth + 1) for key, item in value.items()}
    return value


def _answer(module: Any, request: dict[str, Any], filename: str) -> bytes:
    """The reply to one call: its value, or an error that says why (never an exception, which
    would end this sandbox with nothing said)."""
    name = request["fn"]
    try:
        function = getattr(module, name, None)  # a module __getattr__ is student code too
        if not callable(function):
            return encode({"error": {"type": "missing", "message": f"{Path(filename).name} does not define {name}()"}})
        result = function(*request["args"], **request["kwargs"])
    except BaseException as exc:  # noqa: BLE001 - report it, keep serving
        return encode({"error": _describe_error(exc, filename)})
    try:
        return encode({"ok": plain_sequences(result)})
    except ProtocolError as exc:
        return encode({"error": {"type": "not plain data", "message": _text(f"{name}() returned {exc}")}})


def main(spec: ChildSpec, channel_fd: int) -> None:
    """Entry point in the forked child; never returns."""
    status = 0
    try:
        isolate(spec, channel_fd)
        channel = socket.socket(fileno=channel_fd)
        serve(spec, channel)
    except BaseException:  # noqa: BLE001 - the child must never fall back into the fork server's loop
        status = 70
    os._exit(status)
