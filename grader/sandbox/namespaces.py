"""Linux namespaces: the kernel objects a sandbox gets its own empty set of.

`os.unshare` only exists from Python 3.12, hence ctypes.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def unshare(flags: int) -> None:
    """Move this process into new namespaces of the kinds in `flags` (needs CAP_SYS_ADMIN)."""
    if _libc.unshare(flags) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"unshare({flags:#x}) failed: {os.strerror(number)}")
