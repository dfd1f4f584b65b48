"""The author's checks: their failure messages are the student's feedback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grader.rubric import (
    CheckFailure,
    check_close,
    check_float,
    check_int,
    check_pair,
    check_tuple_of_ints,
    finite_difference_jacobian,
    jacobian,
    randn,
    vjp,
)
from grader.rubric_spec import Tolerance


def test_check_close_names_the_largest_error_and_its_index():
    expected = torch.zeros(3, 4, dtype=torch.float64)
    actual = expected.clone()
    actual[2, 1] = 0.5
    actual[0, 0] = 0.1
    expected_message = r"h: largest error 0.5 at index \(2, 1\): expected 0, got 0.5 \(2 of 12 entries off"
    with pytest.raises(CheckFailure, match=expected_message):
        check_close(actual, expected, name="h")


def test_check_close_says_what_each_index_means():
    expected = torch.zeros(2, 3, 4, dtype=torch.float64)
    actual = expected.clone()
    actual[1, 0, 3] = 1.0
    with pytest.raises(CheckFailure, match=r"J: largest error 1 at index \(t=1, c=0, n=3\)"):
        check_close(actual, expected, name="J", axes=("t", "c", "n"))


def test_a_failure_carries_the_rejected_value_and_the_tolerance_it_used():
    actual = torch.ones(3)
    with pytest.raises(CheckFailure) as failed:
        check_close(actual, torch.zeros(3), rtol=1e-3, atol=1e-9)
    assert failed.value.actual is actual and failed.value.tolerance == Tolerance(1e-3, 1e-9)
    with pytest.raises(CheckFailure) as failed:
        check_close(actual, torch.zeros(4), rtol=1e-3, atol=1e-9)  # the shape is wrong
    assert failed.value.actual is actual and failed.value.tolerance == Tolerance(1e-3, 1e-9)
    pair = (torch.zeros(2), 3)
    with pytest.raises(CheckFailure) as failed:
        check_int(pair[1], 4)
    assert failed.value.actual is pair[1] and failed.value.tolerance == Tolerance()


def test_check_close_accepts_arrays_and_float32_within_tolerance():
    expected = randn(0, 5, 3)
    check_close(expected.numpy().astype(np.float32), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("actual, message", [
    (torch.zeros(3, 5), r"expected shape \(3, 4\), got \(3, 5\)"),
    ((1, 2), "expected a tensor, got tuple"),
    (torch.full((3, 4), math.nan), "largest error inf"),
])
def test_check_close_failures(actual, message):
    with pytest.raises(CheckFailure, match=message):
        check_close(actual, torch.zeros(3, 4))


def test_scalar_checks():
    check_int(np.int64(5), 5)
    check_int(torch.tensor(5), 5)
    check_float(torch.tensor(0.5, dtype=torch.float64), 0.5)
    with pytest.raises(CheckFailure, match=r"^result: returned 5\.0, a float: return an int \(use // or int\(\)\)$"):
        check_int(5.0, 5)
    with pytest.raises(CheckFailure, match=r"size: returned 5\.0, a float: return an int"):
        check_int(np.float64(5.0), 5, name="size")
    with pytest.raises(CheckFailure, match=r"returned 4\.33333, a float"):
        check_int(13 / 3, 4)
    with pytest.raises(CheckFailure, match="expected an int, got str"):
        check_int("5", 5)
    with pytest.raises(CheckFailure, match="expected 2.30259, got 3.32193"):
        check_float(math.log2(10), math.log(10))
    with pytest.raises(CheckFailure, match="expected a number"):
        check_float("1.0", 1.0)


def test_check_float_shows_the_error_and_tolerance_when_the_numbers_print_alike():
    """Under a tolerance tighter than six digits, both numbers print the same: the error says they differ."""
    with pytest.raises(CheckFailure, match=r"^loss\(\): expected 1\.23457, got 1\.23457 "
                                           r"\(error 1\.3e-06; rtol=1e-07, atol=1e-08\)$"):
        check_float(1.2345691, 1.2345678, rtol=1e-7, name="loss()")


def test_tuple_and_pair_checks():
    check_tuple_of_ints((8, 5, 2), (8, 5, 2))
    with pytest.raises(CheckFailure, match=r"result\[2\]: expected 2, got 3"):
        check_tuple_of_ints([8, 5, 3], (8, 5, 2))
    with pytest.raises(CheckFailure, match=r"^f\(\)\[2\] \(W_out\): expected 2, got 3$"):
        check_tuple_of_ints((8, 5, 3), (8, 5, 2), name="f()", labels=("F", "H_out", "W_out"))
    with pytest.raises(CheckFailure, match="expected 3 entries"):
        check_tuple_of_ints((8, 5), (8, 5, 2))
    assert check_pair((1, 2)) == (1, 2)
    with pytest.raises(CheckFailure, match="expected a pair"):
        check_pair(torch.zeros(2))


def test_gradient_references_agree():
    x, W = randn(1, 4), randn(2, 3, 4)
    fn = lambda v: torch.tanh(W @ v)  # noqa: E731
    exact = jacobian(fn, x)
    assert exact.shape == (3, 4)
    torch.testing.assert_close(finite_difference_jacobian(fn, x), exact, rtol=1e-6, atol=1e-8)
    g = randn(3, 3)
    torch.testing.assert_close(vjp(fn, (x,), g), exact.T @ g)
    assert torch.equal(randn(7, 2, 2), randn(7, 2, 2)) and not torch.equal(randn(7, 2), randn(8, 2))
