"""Id lists cut to a length every database binds: a statement takes at most 65,535 parameters on
PostgreSQL (32,766 on SQLite), and a whole-assignment regrade names every submission ever made."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

BATCH = 10_000  # ids per statement: well under either limit, with room for the statement's other parameters


def batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
