"""Linux namespaces: the kernel objects a sandbox gets its own empty set of.

`os.unshare` only exists from Python 3.12, hence ctypes.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
NAMES = {CLONE_NEWIPC: "CLONE_NEWIPC", CLONE_NEWNET: "CLONE_NEWNET"}

_libc = ctypes.CDLL(None, use_errno=True)


def unshare(kind: int) -> None:
    """Move this process into a new namespace of `kind` (needs CAP_SYS_ADMIN)."""
    if _libc.unshare(kind) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"unshare({NAMES[kind]}) failed: {os.strerror(number)}")
