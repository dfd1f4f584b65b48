"""Score histograms: each score is counted in the range whose label includes it."""

from __future__ import annotations

import pytest

from grader.services.histograms import histogram


@pytest.mark.parametrize("score", [0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7])
def test_a_score_on_a_ranges_lower_bound_is_counted_in_that_range(score: float) -> None:
    # On a 3-point question score / 3 * 10 falls just short of the integer for 0.3, 0.6, 1.2 and 2.4.
    bins = histogram([score], 3).bins
    [counted] = [b for b in bins if b.count]
    assert (counted.low, counted.high) == (score, round(score + 0.3, 4))


def test_scores_in_between_full_marks_and_out_of_range_land_where_their_labels_say() -> None:
    bins = histogram([0, 1.19, 1.2, 2.9999, 3, 4, -1], 3).bins
    assert [b.count for b in bins] == [2, 0, 0, 1, 1, 0, 0, 0, 0, 3]
    assert (bins[-1].low, bins[-1].high, bins[-1].last) == (2.7, 3, True)


def test_a_question_worth_nothing_counts_every_score_in_the_first_range() -> None:
    assert histogram([0, 0], 0).counts == [2] + [0] * 9
