"""The fork server's heap sits in 2 MiB pages, so each fork and exit handles few page-table entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.sandbox.hugepages import HUGE_PAGE, private_anonymous_ranges

# The kernel writes a space after the inode of a mapping without a path: kept, as in /proc/<pid>/maps.
MAPS = (
    "55d0c8a00000-55d0c8e43000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f0000000000-7f0000500000 rw-p 00000000 00:00 0 \n"
    "7f0000600000-7f0000700000 rw-p 00000000 00:00 0 \n"
    "7f1000000000-7f1000400000 r-xp 00000000 08:01 1234                       /usr/lib/libtorch_cpu.so\n"
    "7f2000000000-7f2000400000 rw-p 00000000 08:01 1234                       /usr/lib/libtorch_cpu.so\n"
    "7f3000000000-7f3000400000 rw-s 00000000 00:01 99                         /dev/zero (deleted)\n"
    "7ffd00000000-7ffd00400000 rw-p 00000000 00:00 0                          [stack]\n"
)


def test_only_private_anonymous_memory_is_chosen_and_aligned_to_huge_pages():
    ranges = private_anonymous_ranges(MAPS)
    assert ranges == [
        (0x55D0C8A00000, 0x55D0C8E00000),  # the heap, cut down to whole 2 MiB pages
        (0x7F0000000000, 0x7F0000400000),  # 5 MiB anonymous: two whole huge pages
    ]  # the 1 MiB mapping holds no whole huge page; files, shared memory and the stack are left alone
    assert all(start % HUGE_PAGE == 0 and end % HUGE_PAGE == 0 for start, end in ranges)


def _thp_available() -> bool:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return setting.is_file() and "[never]" not in setting.read_text()


@pytest.mark.skipif(not _thp_available(), reason="this kernel has transparent huge pages off")
def test_the_fork_servers_heap_is_in_huge_pages(engine: Engine):
    engine.probe_layers()  # the server answers once it is warm (torch imported, heap collapsed)
    server = engine._fork_server()
    rollup = Path(f"/proc/{server.process.pid}/smaps_rollup").read_text()
    anonymous = int(re.search(r"^Anonymous:\s+(\d+) kB", rollup, re.M).group(1))
    huge = int(re.search(r"^AnonHugePages:\s+(\d+) kB", rollup, re.M).group(1))
    assert huge >= anonymous // 2, f"only {huge} of {anonymous} kB anonymous memory is in huge pages"
