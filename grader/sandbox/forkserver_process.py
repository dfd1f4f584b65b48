"""The fork server process: torch is imported once, each sandbox it forks costs milliseconds.

It is started from a clean environment (by grader.sandbox.forkserver, the engine's handle) and
never imports the rubric, the reference or settings, so nothing secret is in the memory its
children inherit. It drops its network (an empty network namespace) once, for all children. It
is trusted: it runs no student code itself.

Control messages travel over a SOCK_SEQPACKET socket (one message per packet); each spawn
request carries the sandbox's channel socket as an SCM_RIGHTS file descriptor.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.sandbox import hugepages, namespaces
from grader.sandbox.limits import CgroupManager, SandboxCgroup, sandbox_cgroup_prefix

if TYPE_CHECKING:
    from grader.sandbox.seccomp import SeccompFilter

CONTROL_PACKET = 1 << 16
# All a fork server (or a template) is started with: nothing of its starter's environment.
SERVER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}


def read_paths() -> list[Path]:
    """What a sandbox may read: the interpreter, installed packages, system libraries, CPU info."""
    libraries = ("stdlib", "platstdlib", "purelib", "platlib")
    python = {Path(p) for key, p in sysconfig.get_paths().items() if key in libraries}
    system = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/etc/ld.so.cache", "/etc/localtime",
              "/usr/share/zoneinfo", "/proc/cpuinfo", "/sys/devices/system/cpu", "/dev/urandom", "/dev/zero"]
    return sorted(python | {Path(p) for p in system})


def device_paths(device: str) -> list[Path]:
    paths = [Path("/dev/null")]
    if device == "cuda":
        paths += sorted(Path("/dev").glob("nvidia*"))
    return paths


def cuda_read_paths() -> list[Path]:
    return [Path(p) for p in ("/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/proc/self/maps", "/etc/nvidia")]


def _warm_up() -> None:
    """Import and exercise what student code and the child need, so children start warm."""
    # symbolic_shapes: autograd.grad(grad_outputs=...) imports it (and sympy) lazily, which every
    # sandbox that computes a gradient would pay again
    import torch
    import torch.fx.experimental.symbolic_shapes
    import torch.nn.functional as F

    torch.set_num_threads(1)  # before any op: torch hangs in forked children of a multi-threaded parent
    x = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    out = F.conv1d(x, torch.randn(3, 2, 3, dtype=torch.float64)).sigmoid().softmax(-1)
    torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), retain_graph=True)
    out.sum().backward()
    torch.autograd.functional.jacobian(lambda v: torch.tanh(v) @ v, torch.randn(3, dtype=torch.float64))
    torch.einsum("ij,jk->ik", torch.eye(2), torch.eye(2)).numpy()


def _drop_network() -> str:
    try:
        namespaces.unshare(namespaces.CLONE_NEWNET)
    except OSError as exc:
        return f"off: {exc}"
    return "on (empty network namespace)"


class _Server:
    def __init__(self, control: socket.socket) -> None:

        from grader.sandbox import seccomp

        self.control = control
        self.cgroups = CgroupManager()
        self.cgroups.remove_orphans()
        # Named by this server too: every worker has its own fork server, and a shared name would
        # let one server's clean-up kill another's sandbox.
        self.cgroup_prefix = sandbox_cgroup_prefix(os.getpid())
        try:
            self.seccomp_filter: SeccompFilter | None = seccomp.build()
        except RuntimeError:
            self.seccomp_filter = None  # each sandbox reports the layer as off
        self.children: dict[int, SandboxCgroup] = {}
        self.network = _drop_network()
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def run(self) -> None:
        """Until the engine closes its end; also when it died mid-conversation (an answer to it
        broke): either way every sandbox still running is killed, none outlives its engine."""
        try:
            while True:
                watched: list[socket.socket | int] = [self.control, self.wake_r]
                ready, _, _ = select.select(watched, [], [])
                if self.wake_r in ready:
                    os.read(self.wake_r, 4096)
                    self._reap()
                if self.control in ready and not self._handle_request():
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self._shutdown()

    def _handle_request(self) -> bool:
        from grader.sandbox.protocol import decode, encode

        data, fds, _, _ = socket.recv_fds(self.control, CONTROL_PACKET, 1)
        if not data:
            return False
        request = decode(data)
        try:
            pid = self._spawn(request, fds[0])
            reply = {"spawned": pid, "id": request["id"]}
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            reply = {"spawn_failed": f"{type(exc).__name__}: {exc}", "id": request["id"]}
        finally:
            for fd in fds:
                os.close(fd)
        self.control.send(encode(reply))
        return True

    def _spawn(self, request: dict[str, Any], channel_fd: int) -> int:
        from grader.rubric_spec import Limits
        from grader.sandbox import child

        limits = Limits(**request["limits"])
        cgroup = self.cgroups.create(self.cgroup_prefix + str(request["id"]), limits)
        device = request["device"]
        spec = child.ChildSpec(
            workdir=Path(request["workdir"]), output_path=Path(request["output"]), module=request["module"],
            limits=limits, device=device, threads=request["threads"], uid=request["uid"], gid=request["gid"],
            read_paths=read_paths() + (cuda_read_paths() if device == "cuda" else []),
            device_paths=device_paths(device), cgroup=cgroup, seccomp_filter=self.seccomp_filter,
            layers={"network": self.network},
        )
        pid = os.fork()
        if pid == 0:
            child.main(spec, channel_fd)
        self.children[pid] = cgroup
        return pid

    def _reap(self) -> None:
        from grader.sandbox.protocol import encode

        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            cgroup = self.children.pop(pid, None)
            if cgroup is None:
                continue
            cgroup.kill_all()  # nothing of it may outlive it (fork is refused anyway)
            self.control.send(encode({"exited": pid, "status": status, "oom": cgroup.oom_killed()}))
            cgroup.remove()  # after answering: removing a memory cgroup takes milliseconds

    def _shutdown(self) -> None:
        for pid, cgroup in self.children.items():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            cgroup.kill_all()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)  # a cgroup still holding the unreaped child cannot be removed
            cgroup.remove()


def prepare() -> None:
    """What every fork server holds before it serves: warm torch, the child's code, a frozen heap
    in huge pages. A template (grader.sandbox.template) does it once for all the servers it forks."""
    _warm_up()
    from grader.sandbox import child  # noqa: F401 - imported before any fork, so children never read it

    gc.collect()
    gc.freeze()  # children then don't touch (and copy) every inherited object when they collect
    hugepages.collapse()  # last: what is allocated before it is what every fork copies


def serve_prepared(control: socket.socket) -> None:
    """Serve sandboxes on `control` until the engine closes it (its process ended or it closed us)."""
    server = _Server(control)
    # Once more after the server's own state is made (cheap where nothing changed): what it
    # allocated, and in a server forked from a template the shared huge pages its first writes
    # split, is what every sandbox's fork would copy page by page.
    hugepages.collapse()
    server.run()


def serve(control_fd: int) -> None:
    prepare()
    serve_prepared(socket.socket(fileno=control_fd))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
