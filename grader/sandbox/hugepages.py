"""Back the fork server's heap with 2 MiB pages, so forking and tearing down a sandbox is cheap.

`fork` copies one page-table entry for every 4 KiB page of the server's private memory (most of
it torch's), and a sandbox's exit frees as many again: kernel time in every sandbox that grows
with the server. Collapsed into transparent huge pages it is one entry per 2 MiB, a 512th of
the entries. A sandbox that writes to a shared huge page still gets its own copy
of just that 4 KiB page, so what it can see and change is the same as before; only the kernel's
bookkeeping shrinks. Where the kernel has no THP or no MADV_COLLAPSE (before 6.1), nothing
changes and sandboxes start as they did.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20


def private_anonymous_ranges(maps: str) -> list[tuple[int, int]]:
    """The 2 MiB-aligned parts of the writable private anonymous mappings in a /proc/<pid>/maps text."""
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        path = fields[5] if len(fields) > 5 else ""
        if "w" not in fields[1] or "p" not in fields[1] or path not in ("", "[heap]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        start = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
        end &= ~(HUGE_PAGE - 1)
        if end > start:
            ranges.append((start, end))
    return ranges


def collapse() -> None:
    """Collapse this process's private heap into huge pages, where the kernel can (best effort)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, end in private_anonymous_ranges(Path("/proc/self/maps").read_text()):
        # MADV_HUGEPAGE keeps the range eligible for later growth; MADV_COLLAPSE does it now.
        libc.madvise(start, end - start, MADV_HUGEPAGE)
        libc.madvise(start, end - start, MADV_COLLAPSE)
