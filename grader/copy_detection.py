"""Pairs of submissions that share code, found with copydetect's fingerprints (worker side only).

copydetect's CopyDetector keeps every file and an n x n matrix of results in memory and writes an
HTML report: it grows with the square of a class. Here its lower-level pieces do the work (the
tokenizer that turns names into V/F/O and drops comments, k-gram fingerprints, the boilerplate
filter, copied-slice detection) while each file is kept only as a few arrays and the pairs are
compared one at a time, so memory grows with the number of files and only the pairs at or above
the threshold leave this module. Its shares and spans are what copydetect's `compare_files`
answers (tests/test_copy_detection.py holds them side by side).

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
    """What a comparison needs of a file, as arrays: a few tens of KiB where copydetect's object
    holds a set and a dict of Python ints (about ten times as much)."""

    key: int
    hashes: NDArray[np.int64]  # the fingerprint at each position below
    positions: NDArray[np.int64]  # where each fingerprint starts in the filtered code, ascending
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
    hashes = np.repeat(np.fromiter(index.keys(), np.int64, len(index)), counts)
    positions = np.fromiter((p for where in index.values() for p in where), np.int64, int(counts.sum()))
    order = np.argsort(positions, kind="stable")
    offsets = np.asarray(full.offsets, np.int64).reshape(-1, 2)
    coverage = float(full.token_coverage) if full.filtered_code else 0.0
    return Fingerprint(source.key, hashes[order], positions[order], coverage, offsets)


def _slices(side: Fingerprint, shared: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Runs of filtered code covered by the shared fingerprints: [starts, ends] (copydetect's)."""
    return np.asarray(get_copied_slices(side.positions[shared], NOISE_CHARS), np.int64)


def _share(side: Fingerprint, slices: NDArray[np.int64]) -> float:
    return float(np.sum(slices[1] - slices[0])) / side.coverage if side.coverage else 0.0


def _spans(side: Fingerprint, slices: NDArray[np.int64]) -> Spans:
    """The runs as character spans of the file's text, mapped back as compare_files does."""
    if len(side.offsets):
        removed = side.offsets[:, 1][np.clip(np.searchsorted(side.offsets[:, 0], slices), 0, len(side.offsets) - 1)]
        slices = slices + removed
    return [(int(start), int(end)) for start, end in zip(slices[0], slices[1], strict=True)]


class _Vocabulary:
    """Every fingerprint of a run numbered 0..size-1, so that the fingerprints two files share are
    found with lookups in a table instead of sorting (copydetect intersects Python sets)."""

    def __init__(self, prints: Sequence[Fingerprint]) -> None:
        every = np.concatenate([p.hashes for p in prints]) if prints else np.array([], np.int64)
        distinct, numbers = np.unique(every, return_inverse=True)
        self.size = len(distinct)
        self.numbers = np.split(numbers.astype(np.int32), np.cumsum([len(p.hashes) for p in prints])[:-1])
        self.distinct = [np.unique(n) for n in self.numbers]


def _compared_pairs(prints: Sequence[Fingerprint], threshold: float) -> Iterator[Match | None]:
    """Each pair (a before b) once, in order: its Match if its score reaches `threshold`, else None."""
    vocabulary = _Vocabulary(prints)
    in_a = np.zeros(vocabulary.size, np.bool_)
    in_both = np.zeros(vocabulary.size, np.bool_)
    for i, a in enumerate(prints):
        in_a[vocabulary.distinct[i]] = True
        for j in range(i + 1, len(prints)):
            b, b_distinct = prints[j], vocabulary.distinct[j]
            common = b_distinct[in_a[b_distinct]]
            if common.size == 0:
                yield None
                continue
            in_both[common] = True
            slices_a = _slices(a, in_both[vocabulary.numbers[i]])
            in_both[common] = False
            slices_b = _slices(b, in_a[vocabulary.numbers[j]])
            share_a, share_b = _share(a, slices_a), _share(b, slices_b)
            if max(share_a, share_b) < threshold:
                yield None
                continue
            yield Match(a.key, b.key, share_a, share_b, _spans(a, slices_a), _spans(b, slices_b))
        in_a[vocabulary.distinct[i]] = False


def find_copies(
    sources: Iterable[Source], boilerplate: Sequence[str], threshold: float, report_every_s: float = 0.5
) -> Iterator[Progress]:
    """Every pair whose score is at least `threshold` and that shares any code, with progress
    every `report_every_s` seconds or so. A step is a file fingerprinted or a pair compared: the
    last report's `done` is n + n(n-1)/2 for n sources. The sources are read once, as they come."""
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
    for match in _compared_pairs(prints, threshold):
        progress.done += 1
        if match is not None:
            progress.matches.append(match)
        if report_due():
            yield progress
            progress = Progress(progress.done)
    yield progress
