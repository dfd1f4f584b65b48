"""The worker's comparison: copydetect's answers from compact fingerprints, pairs streamed with progress."""

from __future__ import annotations

import io
import itertools

import pytest
from copydetect import CodeFingerprint, compare_files

from grader.config import PROJECT_ROOT
from grader.copy_detection import NOISE_CHARS, WINDOW, Source, boilerplate_hashes, find_copies
from harness.samples import submission_names, submission_source
from harness.variants import disguise

HANDOUT = (PROJECT_ROOT / "rubrics" / "hw2" / "handout" / "hw2.py").read_text()
PYTHON_SAMPLES = [name for name in submission_names() if submission_source(name)[0].endswith(".py")]
VECTORISED = submission_source("correct_vectorised")[1]
LOOPS = submission_source("correct_loops")[1]
AUTOGRAD = submission_source("correct_autograd")[1]


def test_every_share_and_span_is_what_copydetects_compare_files_answers() -> None:
    """Every pair of the HW2 samples (and a disguised copy), at threshold 0: the same pairs, shares and spans."""
    texts = [submission_source(name)[1] for name in PYTHON_SAMPLES] + [disguise(VECTORISED, 7)]
    found = [m for r in find_copies([Source(i, t) for i, t in enumerate(texts)], [HANDOUT], 0) for m in r.matches]
    excluded = boilerplate_hashes([HANDOUT])
    full = [CodeFingerprint(f"{i}.py", NOISE_CHARS, WINDOW, excluded, language="python", fp=io.StringIO(text))
            for i, text in enumerate(texts)]
    expected = {}
    for i, j in itertools.combinations(range(len(texts)), 2):
        overlap, shares, (slices_i, slices_j) = compare_files(full[i], full[j])
        if overlap:
            spans = [[tuple(map(int, span)) for span in slices.T] for slices in (slices_i, slices_j)]
            expected[i, j] = (shares, *spans)
    assert len(expected) > len(texts)  # most pairs share something: the comparison is exercised
    assert {(m.key_a, m.key_b) for m in found} == set(expected)
    for match in found:
        shares, spans_a, spans_b = expected[match.key_a, match.key_b]
        assert (match.similarity_a, match.similarity_b) == pytest.approx(shares, abs=1e-12)
        assert (match.spans_a, match.spans_b) == (spans_a, spans_b)


def test_a_disguised_copy_is_found_and_independent_solutions_are_not() -> None:
    sources = [Source(1, VECTORISED), Source(2, LOOPS), Source(3, disguise(VECTORISED, 11)), Source(4, AUTOGRAD)]
    reports = list(find_copies(sources, [HANDOUT], threshold=0.6, report_every_s=0))
    matches = [match for report in reports for match in report.matches]
    assert [(m.key_a, m.key_b) for m in matches] == [(1, 3)]
    copy = matches[0]
    assert copy.score > 0.9 and min(copy.similarity_a, copy.similarity_b) > 0.9
    # The spans are fragments of each text that read the same once names are set aside.
    start, end = max(copy.spans_a, key=lambda span: span[1] - span[0])
    assert "torch.einsum(" in VECTORISED[start:end]


def test_code_from_the_handout_is_no_ones_copy() -> None:
    """Two submissions that are the handout with one short answer each share only the handout."""
    answers = ["    return (L + 2 * P - D * (K - 1) - 1) // S + 1", "    return 1 + (L - 1 + 2 * P - D * (K - 1)) // S"]
    texts = [HANDOUT.replace("    raise NotImplementedError", answer, 1) for answer in answers]
    with_handout = list(find_copies([Source(1, texts[0]), Source(2, texts[1])], [HANDOUT], 0.6))
    without = list(find_copies([Source(1, texts[0]), Source(2, texts[1])], [], 0.6))
    assert [m for r in with_handout for m in r.matches] == []
    assert [(m.key_a, m.key_b) for r in without for m in r.matches] == [(1, 2)]


def test_progress_counts_each_file_and_each_pair_once() -> None:
    sources = [Source(i, disguise(VECTORISED, i)) for i in range(5)]
    reports = list(find_copies(iter(sources), [HANDOUT], 0.6, report_every_s=0))
    done = [report.done for report in reports]
    assert done == sorted(done) and done[-1] == 5 + 5 * 4 // 2
    assert len([m for r in reports for m in r.matches]) == 5 * 4 // 2
