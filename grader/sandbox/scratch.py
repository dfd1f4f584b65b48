"""Where sandboxes write: a directory per sandbox, on a tmpfs of its own where the engine can mount.

A tmpfs per sandbox bounds the bytes and the files it can make (ENOSPC), touches no disk, shares
no pool with another sandbox or with the engine, and goes in one lazy unmount however deep or
locked-down the tree left in it. Its pages are also charged to the sandbox's memory cgroup.

Layout: `<root>/owner-<pid namespace>-<pid>-<start time>-<n>/<k>/{output.log, work/}`. Several
engines (worker processes, test runs) share one root, and each owner directory names the process
that made it, so an engine start removes the directories of processes that are gone (SIGKILLed
workers, interrupted gradings) and never those of a live one. An owner directory is itself a
small private tmpfs: sandbox mounts don't propagate, and a dead owner goes in one unmount.
Where nothing can be mounted (no root: a laptop), directories are plain and the quota is off.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import logging
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SandboxUnavailable
from grader.sandbox.process_identity import TAG, gone, tag

log = logging.getLogger(__name__)

MS_NOSUID, MS_NODEV, MS_PRIVATE = 0x2, 0x4, 1 << 18
MNT_DETACH = 0x2
OWNER = re.compile(rf"owner-{TAG}-[0-9]+")
OWNER_TMPFS = "size=1m,nr_inodes=65536,mode=0711"  # mount points only
PROBE_TIMEOUT_S = 10

_libc = ctypes.CDLL(None, use_errno=True)
_owners = itertools.count()


@dataclass(frozen=True)
class Quota:
    """What one sandbox may store: bytes and files (inodes, directories included)."""

    megabytes: int
    files: int

    def describe(self) -> str:
        return f"{self.megabytes} MiB, {self.files} files"


def _mount_tmpfs(target: Path, options: str) -> None:
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"mounting a tmpfs failed: {os.strerror(number)}", str(target))


def _make_private(target: Path) -> None:
    if _libc.mount(None, os.fsencode(target), None, MS_PRIVATE, None) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"making a mount private failed: {os.strerror(number)}", str(target))


def _detach(target: Path) -> bool:
    """Lazily unmount `target` and whatever is mounted below it; False if it is no mount point."""
    if _libc.umount2(os.fsencode(target), MNT_DETACH) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.EINVAL, errno.ENOENT):
        return False
    raise OSError(number, f"unmounting failed: {os.strerror(number)}", str(target))


def owner_name() -> str:
    """A name for a new owner directory of this process, unique on this machine while it lives."""
    return f"owner-{tag(os.getpid())}-{next(_owners)}"


def sweep_stale(root: Path) -> list[Path]:
    """Remove the owner directories under `root` whose process is gone; returns those removed.

    An owner from another pid namespace can't be judged from here and is left alone."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = OWNER.fullmatch(entry.name)
        if match is None or not gone(match):
            continue
        try:
            discard(Path(entry.path))
        except OSError as exc:
            log.warning("could not remove the stale sandbox directory %s: %s", entry.path, exc)
            continue
        removed.append(Path(entry.path))
    return removed


def remove(directory: Path) -> None:
    """Remove a sandbox directory and everything in it; never raises (a failure is logged, and
    an engine start removes what is left once its process is gone)."""
    try:
        discard(directory)
    except OSError as exc:
        log.error("could not remove the sandbox directory %s: %s", directory, exc)


def discard(directory: Path) -> None:
    """Unmount whatever is mounted at or below `directory`, then remove what is left."""
    try:
        _detach(directory)
    except OSError as exc:
        if exc.errno != errno.EPERM:  # not ours to unmount: maybe plain directories, try those
            raise
    remove_tree(directory)


def remove_tree(path: Path) -> None:
    """Remove `path` and everything below it, at any depth and whatever permissions its owner set.

    Nothing recursive and at most two descriptors open: each directory's subdirectories are
    moved up to `path` itself before it is removed, so the tree flattens as it goes. Symbolic
    links are never followed."""
    try:
        top = _open_directory(None, str(path))
    except FileNotFoundError:
        return
    try:
        names = itertools.count()
        while entries := os.listdir(top):
            for name in entries:
                if _is_directory(top, name):
                    _flatten(top, name, names)
                else:
                    os.unlink(name, dir_fd=top)
    finally:
        os.close(top)
    os.rmdir(path)


def _flatten(top: int, name: str, names: itertools.count[int]) -> None:
    """Remove directory `name` in `top`: its files deleted, its subdirectories moved to `top`."""
    directory = _open_directory(top, name)
    try:
        for child in os.listdir(directory):
            if not _is_directory(directory, child):
                os.unlink(child, dir_fd=directory)
                continue
            if os.geteuid() != 0:
                os.chmod(child, 0o700, dir_fd=directory)  # moving a directory rewrites its `..`
            while True:
                try:
                    os.rename(child, f".removing-{next(names)}", src_dir_fd=directory, dst_dir_fd=top)
                    break
                except OSError as exc:  # a name the student picked too: take the next one
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                        raise
    finally:
        os.close(directory)
    os.rmdir(name, dir_fd=top)


def _open_directory(parent: int | None, name: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=parent)
    except PermissionError:  # only without root: a directory its owner (the sandbox) locked
        os.chmod(name, 0o700, dir_fd=parent)
        fd = os.open(name, flags, dir_fd=parent)
    if os.geteuid() != 0 and os.fstat(fd).st_mode & 0o700 != 0o700:
        os.fchmod(fd, 0o700)
    return fd


def _is_directory(parent: int, name: str) -> bool:
    return stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)


class ScratchArea:
    """One engine's sandbox directories under the shared root (made by the engine, handed to
    each sandbox in its spec)."""

    def __init__(self, root: Path, quota: Quota) -> None:
        self.root, self.quota = root, quota
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)
        sweep_stale(self.root)
        self.directory = root / owner_name()
        self.directory.mkdir(mode=0o711)
        self._sandboxes = itertools.count()
        self.unmounted_because = self._mount_own_tmpfs()
        self.mounted = not self.unmounted_because

    def _mount_own_tmpfs(self) -> str:
        """Why the area's directory could not be made a private tmpfs ("" if it was)."""
        try:
            _mount_tmpfs(self.directory, OWNER_TMPFS)
            _make_private(self.directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                _detach(self.directory)  # if it got as far as mounting
            return exc.strerror or str(exc)
        return ""

    @property
    def layer(self) -> str:
        """The quota as an isolation layer of `grader sandbox check` and the engine's checks."""
        if self.mounted:
            return f"on (a tmpfs per sandbox: {self.quota.describe()})"
        return f"off: no tmpfs per sandbox, so bytes and files are unbounded ({self.unmounted_because})"

    def create(self, uid: int, gid: int) -> Path:
        """A new sandbox directory (root's, 0711) with its scratch `work/` (the sandbox uid's, 0700)."""
        directory = self.directory / str(next(self._sandboxes))
        try:
            directory.mkdir(mode=0o711)
            if self.mounted:
                _mount_tmpfs(directory, f"size={self.quota.megabytes}m,nr_inodes={self.quota.files},mode=0711")
            work = directory / "work"
            work.mkdir(mode=0o700)
            if os.geteuid() == 0:
                os.chown(work, uid, gid)
        except OSError as exc:
            remove(directory)
            raise SandboxUnavailable(f"could not make a sandbox directory: {exc}") from exc
        return directory

    def unreachable_by(self, uid: int, gid: int) -> str:
        """Why the sandbox uid could not use a sandbox directory here ("" if it can): a root below
        a directory it cannot traverse fails every import, which must never become a score."""
        if os.geteuid() != 0 or uid == 0:
            return ""  # the sandbox runs as this user, who has just made the directories
        directory = self.create(uid, gid)
        try:
            done = subprocess.run(["/bin/sh", "-c", ': > "$0/probe"', str(directory / "work")],
                                  user=uid, group=gid, extra_groups=[], cwd="/", env={}, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        finally:
            remove(directory)
        if done.returncode == 0:
            return ""
        problem = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        return f"uid {uid} cannot write in its sandbox directory under {self.root} ({problem})"

    def close(self) -> None:
        remove(self.directory)
