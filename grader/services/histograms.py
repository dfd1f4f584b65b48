"""Score histograms: counts over equal ranges of [0, max score], each range with its bounds, so a
page can label its axis and say in words how many scored what."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    last: bool  # the last range includes its upper bound (full marks), the others do not


@dataclass(frozen=True)
class Histogram:
    max_score: float
    bins: list[Bin]

    @property
    def counts(self) -> list[int]:
        return [b.count for b in self.bins]

    @property
    def total(self) -> int:
        return sum(self.counts)


def histogram(scores: Iterable[float], max_score: float, bins: int = HISTOGRAM_BINS) -> Histogram:
    """Scores out of range land in the first or last range (a manual grade above a lowered maximum).

    Scores are placed by the rounded edges the labels show, not by a float quotient, which falls
    just short of an edge (1.2 of 3) and would count a score in the range below its label.
    """
    edges = [round(max_score * i / bins, 4) for i in range(bins + 1)]
    counts = [0] * bins
    for score in scores:
        index = bisect_right(edges, score) - 1 if max_score else 0
        counts[max(0, min(index, bins - 1))] += 1
    return Histogram(max_score, [Bin(edges[i], edges[i + 1], counts[i], i == bins - 1) for i in range(bins)])
