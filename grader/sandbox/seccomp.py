"""Seccomp: the system calls student code may not make, whatever it imports or patches.

No new processes (fork, vfork, clone without CLONE_THREAD), no exec, no sockets (the result
channel is inherited, already connected), no ptrace, mounts, namespaces, BPF, io_uring or keyrings.
Threads still work: clone3 answers ENOSYS so glibc falls back to clone, which is checked.

Every sandbox runs as the same uid, and the kernel lets a process set the limits, priority, CPUs
and scheduling of any other of its uid: one submission could lower the next one's RLIMIT_AS (it
then fails to import) or slow it into timeouts. So those calls pass only when they name the caller
itself (pid 0, as glibc's setrlimit and getrlimit, os.nice and torch's own affinity calls do); any
other pid, its own included, gets EPERM. Calls that reach another process through a pidfd are
refused outright. Reading another process's priority or scheduling is left alone.
"""

from __future__ import annotations

import errno
from typing import Protocol, cast

CLONE_THREAD = 0x00010000

DENIED = (
    "fork", "vfork", "execve", "execveat",
    "socket", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "personality", "kexec_load", "init_module", "finit_module",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "pidfd_open", "pidfd_getfd", "process_madvise", "process_mrelease",
)
# Their first argument is a pid, 0 meaning the caller (prlimit64 also reads another's limits).
ON_ITSELF_ONLY = (
    "prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr",
    "migrate_pages", "move_pages",
)
# (which, who, ...): who 0 is the caller only with this `which` (PRIO_PROCESS, IOPRIO_WHO_PROCESS);
# with another it is the caller's process group, or every process of its uid.
ON_ITS_PROCESS_ONLY = {"setpriority": 0, "ioprio_set": 1}


class SeccompFilter(Protocol):
    """What a sandbox does with pyseccomp's filter (a library without types)."""

    def load(self) -> None: ...


try:  # imported in the fork server: finding libseccomp runs ldconfig, which a sandbox cannot
    import pyseccomp as sc
except (ImportError, OSError, RuntimeError) as exc:
    sc = None
    _unavailable = f"{type(exc).__name__}: {exc}"


def build() -> SeccompFilter:
    """The filter, built once in the fork server; each sandbox only loads it."""
    if sc is None:
        raise RuntimeError(f"libseccomp unavailable ({_unavailable})")
    refuse = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        flt.add_rule(refuse, name)
    for name in ON_ITSELF_ONLY:
        flt.add_rule(refuse, name, sc.Arg(0, sc.NE, 0))
    for name, one_process in ON_ITS_PROCESS_ONLY.items():
        flt.add_rule(refuse, name, sc.Arg(0, sc.NE, one_process))
        flt.add_rule(refuse, name, sc.Arg(1, sc.NE, 0))
    flt.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return cast(SeccompFilter, flt)


def install(flt: SeccompFilter | None) -> None:
    """Load the filter into this process (needs no_new_privs or CAP_SYS_ADMIN). Irreversible."""
    if flt is None:
        raise RuntimeError(f"libseccomp unavailable ({_unavailable})")
    flt.load()
