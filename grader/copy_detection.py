"""Pairs of submissions that share code, found with copydetect's fingerprints (worker side only).

copydetect's CopyDetector keeps every file and an n x n matrix of results in memory and writes an
HTML report: it grows with the square of a class. Here its lower-level pieces do the work (the
tokenizer that turns names into V/F/O and drops comments, k-gram fingerprints, the boilerplate
filter, copied-slice detection) while each file is kept only as a few arrays and the pairs are
compared one at a time, so memory grows with the number of files and only the pairs at or above
the threshold leave this module. `compare` answers what copydetect's `compare_files` answers
(tests/test_copy_detection.py holds them side by side).

copydetect hashes k-grams with Python's `hash`, which is salted per process: fingerprints are
compared within the process that made them and never stored.

Imports numpy (through copydetect): the HTTP process must never import this module.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import get_copied_slices
from numpy.typing import NDArray

NOISE_CHARS = 25  # copydetect's noise threshold: shared runs of filtered code shorter than this are ignored
WINDOW = 1  # winnowing window (guarantee threshold - noise threshold + 1): copydetect's default keeps every k-gram
LANGUAGE = "python"  # notebooks are compared as the code their cells hold

Spans = list[tuple[int, int]]


@dataclass(frozen=True)
class Source:
    """One file to compare: `key` names it to the caller (a submission id)."""

    key: int
    text: str


@dataclass(frozen=True)
class Fingerprint:
    """What `compare` needs of a file, as arrays: a few tens of KiB where copydetect's object holds
    a set and a dict of Python ints (about ten times as much)."""

    key: int
    hashes: NDArray[np.int64]  # the distinct fingerprints, sorted
    position_hashes: NDArray[np.int64]  # the fingerprint at each position below
    positions: NDArray[np.int64]  # where each fingerprint starts in the filtered code
    coverage: float  # characters of filtered code the fingerprints cover (copydetect's token_coverage)
    offsets: NDArray[np.int64]  # filtered index -> characters the filter removed before it (copydetect's)


@dataclass(frozen=True)
class Match:
    """Two files that share code: the share of each file that is shared, and where (character
    spans of each file's text, the fragments to highlight)."""

    key_a: int
    key_b: int
    similarity_a: float
    similarity_b: float
    spans_a: Spans
    spans_b: Spans

    @property
    def score(self) -> float:
        """A pair is as similar as its more copied side (copydetect lists a pair when either is)."""
        return max(self.similarity_a, self.similarity_b)


@dataclass
class Progress:
    """Steps done so far (see `find_copies`) and the matches found since the previous report."""

    done: int
    matches: list[Match] = field(default_factory=list)


def _code_fingerprint(name: str, text: str, boilerplate: NDArray[np.int64] | None, window: int) -> CodeFingerprint:
    return CodeFingerprint(name, NOISE_CHARS, window, boilerplate, language=LANGUAGE, fp=io.StringIO(text))


def boilerplate_hashes(texts: Sequence[str]) -> NDArray[np.int64]:
    """Every k-gram of the handout: shared code that is no one's copy (as CopyDetector does it)."""
    found = [np.fromiter(_code_fingerprint("handout.py", text, None, 1).hashes, np.int64) for text in texts]
    return np.unique(np.concatenate(found)) if found else np.array([], np.int64)


def fingerprint(source: Source, boilerplate: NDArray[np.int64]) -> Fingerprint:
    full = _code_fingerprint(f"{source.key}.py", source.text, boilerplate, WINDOW)
    index: dict[int, list[int]] = full.hash_idx
    counts = np.fromiter((len(where) for where in index.values()), np.int64, len(index))
    position_hashes = np.repeat(np.fromiter(index.keys(), np.int64, len(index)), counts)
    positions = np.fromiter((p for where in index.values() for p in where), np.int64, int(counts.sum()))
    offsets = np.asarray(full.offsets, np.int64).reshape(-1, 2)
    coverage = float(full.token_coverage) if full.filtered_code else 0.0
    return Fingerprint(source.key, np.unique(position_hashes), position_hashes, positions, coverage, offsets)


def _copied(side: Fingerprint, common: NDArray[np.int64]) -> tuple[float, Spans]:
    """The share of `side` covered by the shared fingerprints, and those runs as spans of its text."""
    slices = get_copied_slices(side.positions[np.isin(side.position_hashes, common)], NOISE_CHARS).astype(np.int64)
    share = float(np.sum(slices[1] - slices[0])) / side.coverage if side.coverage else 0.0
    if len(side.offsets):  # back from filtered code to the text, as compare_files does
        removed = side.offsets[:, 1][np.clip(np.searchsorted(side.offsets[:, 0], slices), 0, len(side.offsets) - 1)]
        slices = slices + removed
    return share, [(int(start), int(end)) for start, end in zip(slices[0], slices[1], strict=True)]


def compare(a: Fingerprint, b: Fingerprint) -> Match | None:
    """What the two files share; None when they share no fingerprint."""
    common = np.intersect1d(a.hashes, b.hashes, assume_unique=True)
    if common.size == 0:
        return None
    similarity_a, spans_a = _copied(a, common)
    similarity_b, spans_b = _copied(b, common)
    return Match(a.key, b.key, similarity_a, similarity_b, spans_a, spans_b)


def find_copies(
    sources: Iterable[Source], boilerplate: Sequence[str], threshold: float, report_every_s: float = 0.5
) -> Iterator[Progress]:
    """Every pair whose score is at least `threshold`, with progress every `report_every_s` seconds
    or so. A step is a file fingerprinted or a pair compared: the last report's `done` is
    n + n(n-1)/2 for n sources. The sources are read once, as they come."""
    excluded = boilerplate_hashes(boilerplate)
    progress = Progress(0)
    reported = time.monotonic()

    def report_due() -> bool:
        nonlocal reported
        now = time.monotonic()
        if now - reported < report_every_s:
            return False
        reported = now
        return True

    prints: list[Fingerprint] = []
    for source in sources:
        prints.append(fingerprint(source, excluded))
        progress.done += 1
        if report_due():
            yield progress
            progress = Progress(progress.done)
    for i, a in enumerate(prints):
        for b in prints[i + 1:]:
            match = compare(a, b)
            progress.done += 1
            if match is not None and match.score >= threshold:
                progress.matches.append(match)
            if report_due():
                yield progress
                progress = Progress(progress.done)
    yield progress
