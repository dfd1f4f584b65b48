"""What a failed test case says about the student's code: which call gave the wrong answer, that
answer's signature, and the known mistakes (misconceptions.py) it equals.

Runs in the trusted process, only for failed cases, on the inputs the test built and the answers
that came back (plain data from the sandbox): no student code runs for it. The failing check's
`actual` is the object the student's call returned (or a part of it), so the call is found by
identity; the comparison with a mistake uses that check's tolerance.
"""

from __future__ import annotations

import copy
import hashlib
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import torch

from grader.errors import StudentFault
from grader.rubric.checks import CheckFailure, off_entries, scalar
from grader.rubric.misconceptions import Catalog, Misconception
from grader.rubric_spec import RubricError, Tolerance
from grader.scoring import Answer

MAX_DEPTH = 32  # as deep as the protocol lets an answer be
MAX_ROUNDED = 1 << 20  # entries of one answer rounded for its signature; honest answers have far fewer
ROUNDING_BLOCK = 1 << 16  # entries rounded at a time


@dataclass
class Call:
    """One call a test made to the student's code, as the test made it and as it was answered."""

    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    answered: bool = False
    result: Any = None


class RecordingStudent:
    """What rubric tests get as `student`: each call goes to the submission and is noted in the
    running test's call list (`calls()`), so a failure can be traced to the call that caused it."""

    def __init__(self, student: Any, calls: Callable[[], list[Call]]) -> None:
        self._student, self._calls = student, calls

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        function = getattr(self._student, name)
        if not callable(function):
            return function

        def call(*args: Any, **kwargs: Any) -> Any:
            record = Call(name, args, kwargs)
            self._calls().append(record)
            record.result = function(*args, **kwargs)
            record.answered = True
            return record.result

        call.__name__ = name
        return call


def _parts(value: Any, depth: int = 0) -> Iterator[Any]:
    """The value and everything inside its tuples, lists and dicts."""
    yield value
    if depth < MAX_DEPTH and type(value) in (tuple, list, dict):
        for item in value.values() if type(value) is dict else value:
            yield from _parts(item, depth + 1)


def culprits(calls: list[Call], failure: BaseException) -> list[Call]:
    """The calls a failure is about: the one that raised or crashed, the one whose answer a check
    rejected (by identity), or, where the test's own code failed, every answered call."""
    if isinstance(failure, StudentFault):
        return [call for call in calls if not call.answered]
    answered = [call for call in calls if call.answered]
    if isinstance(failure, CheckFailure):
        hit = [call for call in answered if any(part is failure.actual for part in _parts(call.result))]
        if hit:
            return hit
    return answered


def _as_it_came(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A CPU tensor of the value in its own dtype (no copy of an answer: answers are on the CPU)."""
    tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
    return tensor.detach().cpu()


def _real(tensor: torch.Tensor) -> bool:
    """Whether the tensor is compared and signed as float64 (complex and bool ones are kept as they are)."""
    return not (tensor.is_complex() or tensor.dtype == torch.bool)


def _tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    tensor = _as_it_came(value)
    return tensor.to(torch.float64) if _real(tensor) else tensor


def same_answer(actual: Any, wrong: Any, tolerance: Tolerance, depth: int = 0) -> bool:
    """Whether the student's answer equals a mistake's within `tolerance` (as a check compares it
    with the right one): tensors and arrays alike, tuples and lists alike, an int never a float."""
    actual, wrong = scalar(actual), scalar(wrong)
    arrays = (torch.Tensor, np.ndarray)
    if isinstance(actual, arrays) and isinstance(wrong, arrays):
        if tuple(actual.shape) != tuple(wrong.shape):
            return False  # before any copy: the student's answer may be far larger than the mistake's
        a, w = _tensor(actual), _tensor(wrong)
        if a.dtype.is_floating_point != w.dtype.is_floating_point:
            return False
        return not bool(off_entries(a, w, tolerance).any()) if a.dtype.is_floating_point else torch.equal(a, w)
    if isinstance(actual, (tuple, list)) and isinstance(wrong, (tuple, list)):
        return depth < MAX_DEPTH and len(actual) == len(wrong) and all(
            same_answer(a, w, tolerance, depth + 1) for a, w in zip(actual, wrong, strict=True))
    if isinstance(actual, dict) and isinstance(wrong, dict):
        return depth < MAX_DEPTH and actual.keys() == wrong.keys() and all(
            same_answer(actual[k], wrong[k], tolerance, depth + 1) for k in actual)
    if type(actual) is float and type(wrong) is float:
        both_nan = math.isnan(actual) and math.isnan(wrong)
        return both_nan or abs(actual - wrong) <= tolerance.atol + tolerance.rtol * abs(wrong)
    return type(actual) is type(wrong) and type(actual) in (int, bool, str, type(None)) and actual == wrong


def _significant_digits(tolerance: Tolerance) -> int:
    """The digits a check resolves, less one, so that float32 noise rounds away."""
    return max(1, round(-math.log10(tolerance.rtol)) - 1)


def _rounded(tensor: torch.Tensor, tolerance: Tolerance) -> torch.Tensor:
    """The tensor rounded to the digits the tolerance resolves; those within atol of zero are zero."""
    digits = _significant_digits(tolerance)
    magnitude = torch.floor(torch.log10(tensor.abs().clamp_min(1e-300)))
    scale = torch.pow(10.0, digits - 1 - magnitude)
    rounded = torch.round(tensor * scale) / scale
    rounded = torch.where(tensor.abs() <= tolerance.atol, torch.zeros_like(tensor), rounded) + 0.0  # no -0.0
    rounded = torch.where(torch.isinf(tensor), tensor, rounded)
    return torch.where(torch.isnan(tensor), torch.full_like(tensor, math.nan), rounded)


def _rounded_float(value: float, digits: int, atol: float) -> float:
    """`_rounded` of a one-element tensor of `value`, bit for bit, without a tensor: the same libm
    calls (log10, pow) that torch makes for one element, so a plain float in an answer costs no
    tensor, yet keeps the signature it always had. (A batch of floats as one tensor would not:
    torch's vectorized log10 and pow differ from libm's in the last bit.)"""
    if not math.isfinite(value):
        return math.nan if math.isnan(value) else value
    if abs(value) <= atol:
        return 0.0
    try:
        scale = 10.0 ** (digits - 1 - math.floor(math.log10(max(abs(value), 1e-300))))
    except OverflowError:  # where C's pow gives inf, Python's raises
        scale = math.inf
    product = value * scale
    return (float(round(product)) if math.isfinite(product) else product) / scale + 0.0  # no -0.0


def _header(rounded: bool, shape: tuple[int, ...], dtype: torch.dtype) -> bytes:
    """What precedes a tensor's entries in a signature: its shape, dtype, and whether they were rounded."""
    return f"{'T' if rounded else 'B'}{shape}{dtype}".encode()


# The headers of a plain float, signed as a one-element float64 tensor of it.
_FLOAT_ROUNDED = _header(True, (1,), torch.float64)
_FLOAT_BITS = _header(False, (1,), torch.float64)


class _Signer:
    """The digest of one answer, fed part by part. Its first MAX_ROUNDED entries are rounded, a
    tensor's a block at a time (rounding makes several float64 copies), a plain float's alone
    without a tensor; a tensor or float past them is fed bit for bit. So a huge answer (only a
    hostile or absurd one is) costs time in proportion to its bytes, and memory far below them."""

    def __init__(self, tolerance: Tolerance) -> None:
        self.tolerance = tolerance
        self.digest = hashlib.sha256()
        self.rounded_left = MAX_ROUNDED
        self.digits = _significant_digits(tolerance)

    def feed(self, value: Any, depth: int = 0) -> None:
        value = scalar(value)
        if type(value) is float:  # first: long answers are mostly floats
            self._feed_float(value)
        elif isinstance(value, (torch.Tensor, np.ndarray)):
            self._feed_tensor(_as_it_came(value))
        elif isinstance(value, (tuple, list, dict)) and depth < MAX_DEPTH:
            items = (sorted(value.items(), key=lambda kv: repr(kv[0])) if isinstance(value, dict)
                     else list(enumerate(value)))
            self.digest.update(f"({len(items)}".encode())
            for key, item in items:
                self.digest.update(repr(key).encode())
                self.feed(item, depth + 1)
        else:
            self.digest.update(f"{type(value).__name__}:{value!r}".encode())

    def _feed_float(self, value: float) -> None:
        """As a one-element float64 tensor of it is fed, then marked as a float."""
        if self.rounded_left > 0:
            self.rounded_left -= 1
            rounded = _rounded_float(value, self.digits, self.tolerance.atol)
            self.digest.update(_FLOAT_ROUNDED + struct.pack("d", rounded) + b"F")
        else:
            self.digest.update(_FLOAT_BITS + struct.pack("d", value) + b"F")

    def _feed_tensor(self, tensor: torch.Tensor) -> None:
        if tensor.numel() > self.rounded_left:
            self.digest.update(_header(False, tuple(tensor.shape), tensor.dtype))
            self.digest.update(tensor.contiguous().numpy().data)
            return
        self.rounded_left -= tensor.numel()
        real = _real(tensor)
        self.digest.update(_header(True, tuple(tensor.shape), torch.float64 if real else tensor.dtype))
        for block in tensor.reshape(-1).split(ROUNDING_BLOCK):
            if real:
                block = _rounded(block.to(torch.float64), self.tolerance)
            self.digest.update(block.contiguous().numpy().data)


def signature(value: Any, tolerance: Tolerance) -> str:
    """A short digest of an answer rounded to the check's tolerance: equal wrong answers (within
    rounding) share it, whatever their float precision, array kind or sequence kind. A tensor or
    float past the answer's first MAX_ROUNDED entries shares it only when equal bit for bit."""
    signer = _Signer(tolerance)
    signer.feed(value)
    return signer.digest.hexdigest()[:16]


def _answer(what: str, compute: Callable[..., Any], call: Call) -> Any:
    """Trusted code's answer to the call, on copies of its inputs (nothing it does reaches the test's)."""
    try:
        return compute(*copy.deepcopy(call.args), **copy.deepcopy(call.kwargs))
    except Exception as exc:  # whatever breaks in rubric code is the rubric's to fix
        raise RubricError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def matches(mistake: Misconception, call: Call, tolerance: Tolerance, right: Callable[..., Any] | None = None) -> bool:
    """Whether the call's answer is this mistake's, on a call the mistake is used for. With
    `right` (the reference's function), a mistake that gives the right answer on this call is
    never matched, whatever its `when` says."""
    label = f"misconception {mistake.mistake.id!r} of {call.function}()"
    try:
        used = mistake.applies(call.args, call.kwargs)
    except Exception as exc:  # as in _answer
        raise RubricError(f"{label}: when() raised {type(exc).__name__}: {exc}") from exc
    if not used:
        return False
    wrong = _answer(label, mistake.compute, call)
    if not same_answer(call.result, wrong, tolerance):
        return False
    return right is None or not same_answer(_answer(f"reference {call.function}()", right, call), wrong, tolerance)


def diagnose(about: list[Call], failure: BaseException, tolerance: Tolerance, catalog: Catalog,
             reference: ModuleType) -> tuple[Answer, ...]:
    """One `Answer` per function whose answer the failure is about (`about`: its `culprits`; none
    for a crash), with the known mistakes it matches and the reference (where it has the function)
    does not."""
    if isinstance(failure, CheckFailure):
        tolerance = failure.tolerance
    by_function: dict[str, list[Call]] = {}
    for call in about:
        if call.answered:
            by_function.setdefault(call.function, []).append(call)
    answers = []
    for function, group in by_function.items():
        value = group[0].result if len(group) == 1 else [call.result for call in group]
        right = getattr(reference, function, None)
        right = right if callable(right) else None
        known = tuple(m.mistake for m in catalog.get(function, ())
                      if all(matches(m, call, tolerance, right) for call in group))
        answers.append(Answer(function, signature(value, tolerance), known))
    return tuple(answers)
