"""One page of a long list (a gradebook of hundreds of students), so a page stays small."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # from 1
    pages: int  # at least 1, even for an empty list
    size: int
    total: int  # items in the whole list

    @property
    def first(self) -> int:
        """The position of the page's first item in the list, from 1 (0 on an empty list)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def page_of(items: Sequence[T], number: int, size: int) -> Page[T]:
    """Page `number` of `items`; a number past the end gives the last page."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(items[start:start + size], number, pages, size, len(items))
