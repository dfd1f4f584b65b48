"""Checks a rubric author calls on a student's value; failures explain what to fix.

Every check has the shape `check_x(actual, expected, ..., name="result")`: `actual` is the
student's value (plain data decoded from the sandbox, never trusted to behave), `expected` comes
from the reference. A failure raises `CheckFailure` whose message is the student's feedback: which
shape was expected, the largest error and where, never the test's inputs.

Value checks compare within the running question's tolerance (the rubric's `[checks]`, or the
question's own rtol/atol), so a test passes rtol/atol only to differ from its question.

A failure carries the value it rejected and the tolerance it used, so that the rubric run can
tell which student call gave the wrong answer and compare that answer with known mistakes
(grader/rubric/diagnosis.py) within the same tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextvars import ContextVar

import numpy as np
import torch

from grader.rubric_spec import Tolerance

# The running question's tolerance: the rubric plugin sets it for each test (one thread runs them).
current_tolerance: ContextVar[Tolerance] = ContextVar("current_tolerance", default=Tolerance())


class CheckFailure(AssertionError):
    """The student's value is wrong; the message is shown to the student. `actual` is the value
    the check rejected (the very object it was given) and `tolerance` the one it compared with."""

    def __init__(self, message: str, actual: object = None, tolerance: Tolerance | None = None) -> None:
        super().__init__(message)
        self.actual = actual
        self.tolerance = tolerance or current_tolerance.get()


def _resolve(rtol: float | None, atol: float | None) -> Tolerance:
    """The tolerance a check uses: what it was given, else the running question's."""
    current = current_tolerance.get()
    return Tolerance(current.rtol if rtol is None else rtol, current.atol if atol is None else atol)


def _index(index: tuple[int, ...], axes: Sequence[str]) -> str:
    """(1, 0, 4) as "(1, 0, 4)", or with axes t, c, n as "(t=1, c=0, n=4)"."""
    if len(axes) != len(index):
        return str(index)
    return "(" + ", ".join(f"{axis}={i}" for axis, i in zip(axes, index, strict=True)) + ")"


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"{type(value).__name__} {_short(value)}"


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _real_tensor(actual: object, name: str) -> torch.Tensor:
    """The student's tensor or array as it came (no copy), or a CheckFailure saying what it was instead."""
    if isinstance(actual, torch.Tensor):
        tensor = actual
    elif isinstance(actual, np.ndarray):
        tensor = torch.from_numpy(actual)
    else:
        raise CheckFailure(f"{name}: expected a tensor, got {_describe(actual)}", actual)
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise CheckFailure(f"{name}: expected a real floating-point tensor, got dtype {tensor.dtype}", actual)
    return tensor


def as_tensor(actual: object, name: str = "result") -> torch.Tensor:
    """The student's value as a float64 CPU tensor, or a CheckFailure saying what it was instead."""
    return _real_tensor(actual, name).detach().to(device="cpu", dtype=torch.float64)


def check_shape(actual: object, expected_shape: Sequence[int], name: str = "result") -> torch.Tensor:
    """The value is a tensor of exactly `expected_shape`; returns it as a float64 tensor. The shape
    is checked first: a wrong-shaped value, however large, is never copied."""
    shape = tuple(_real_tensor(actual, name).shape)
    expected = tuple(int(n) for n in expected_shape)
    if shape != expected:
        raise CheckFailure(f"{name}: expected shape {expected}, got {shape}", actual)
    return as_tensor(actual, name)


def off_entries(actual: torch.Tensor, expected: torch.Tensor, tolerance: Tolerance) -> torch.Tensor:
    """Where |actual - expected| > atol + rtol * |expected| (a NaN is off unless both are NaN);
    the two have the same shape."""
    bad = (actual - expected).abs() > tolerance.atol + tolerance.rtol * expected.abs()
    return bad | (torch.isnan(actual) != torch.isnan(expected))


def check_close(
    actual: object,
    expected: torch.Tensor | np.ndarray,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    name: str = "result",
    axes: Sequence[str] = (),
) -> None:
    """Same shape as `expected` and |actual - expected| <= atol + rtol * |expected| everywhere.
    `axes` names the index of each dimension (("t", "c", "n")) so the student can read where
    the largest error is."""
    tolerance = _resolve(rtol, atol)
    reference = as_tensor(expected, "expected")
    try:
        tensor = check_shape(actual, reference.shape, name)
    except CheckFailure as failure:
        failure.tolerance = tolerance  # the one this check compares with
        raise
    if tensor.numel() == 0:
        return
    bad = off_entries(tensor, reference, tolerance)
    error = (tensor - reference).abs()
    error = torch.where(torch.isnan(error), torch.full_like(error, math.inf), error)
    if not bool(bad.any()):
        return
    flat = int(torch.argmax(torch.where(bad, error, torch.zeros_like(error))))
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(reference.shape)))
    where = f" at index {_index(index, axes)}" if index else ""
    raise CheckFailure(
        f"{name}: largest error {float(error.flatten()[flat]):.3g}{where}: expected "
        f"{float(reference.flatten()[flat]):.6g}, got {float(tensor.flatten()[flat]):.6g} "
        f"({int(bad.sum())} of {reference.numel()} entries off; rtol={tolerance.rtol:g}, atol={tolerance.atol:g})",
        actual, tolerance,
    )


def scalar(value: object) -> object:
    """A one-element tensor, array or NumPy number as a Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    if isinstance(value, np.ndarray) and value.shape == ():
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_int(actual: object, expected: int, name: str = "result") -> None:
    """An integer (a Python int, a NumPy or 0-d torch integer) equal to `expected`; a float, even
    a whole one, is refused as the contract says, with the way to fix it."""
    value = scalar(actual)
    if isinstance(value, float):
        shown = repr(float(f"{value:.6g}"))  # 5.0, 4.66667: visibly a float
        raise CheckFailure(f"{name}: returned {shown}, a float: return an int (use // or int())", actual)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckFailure(f"{name}: expected an int, got {_describe(actual)}", actual)
    if value != expected:
        raise CheckFailure(f"{name}: expected {expected}, got {value}", actual)


def check_float(
    actual: object, expected: float, *, rtol: float | None = None, atol: float | None = None, name: str = "result"
) -> None:
    """A real number (Python, NumPy or 0-d tensor) within tolerance of `expected`."""
    tolerance = _resolve(rtol, atol)
    value = scalar(actual)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailure(f"{name}: expected a number, got {_describe(actual)}", actual)
    if not math.isclose(float(value), expected, rel_tol=tolerance.rtol, abs_tol=tolerance.atol):
        # Under a tolerance tighter than six digits both numbers print alike: the error tells them apart.
        raise CheckFailure(
            f"{name}: expected {expected:.6g}, got {float(value):.6g} "
            f"(error {abs(float(value) - expected):.3g}; rtol={tolerance.rtol:g}, atol={tolerance.atol:g})",
            actual, tolerance,
        )


def check_tuple_of_ints(
    actual: object, expected: Sequence[int], name: str = "result", labels: Sequence[str] = ()
) -> None:
    """A tuple (or list) of ints equal to `expected`, e.g. an output shape. `labels` says what
    each entry is (("F", "H_out", "W_out")), for the message about a wrong one."""
    if not isinstance(actual, (tuple, list)):
        raise CheckFailure(f"{name}: expected a tuple of {len(expected)} ints, got {_describe(actual)}", actual)
    if len(actual) != len(expected):
        raise CheckFailure(
            f"{name}: expected {len(expected)} entries {tuple(expected)}, got {len(actual)}: {_short(tuple(actual))}",
            actual,
        )
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        label = f" ({labels[i]})" if len(labels) == len(expected) else ""
        check_int(got, want, name=f"{name}[{i}]{label}")


def check_pair(actual: object, name: str = "result") -> tuple[object, object]:
    """A function that must return two values did; returns them."""
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        raise CheckFailure(f"{name}: expected a pair of values, got {_describe(actual)}", actual)
    return actual[0], actual[1]
