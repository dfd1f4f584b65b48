"""1.1 Convolutions: output sizes, conv1d_forward, its Jacobians and dl/dW.

Expected values come from torch itself (nn.Conv2d shapes, F.conv1d, autograd), not from
reference.py, so a mistake in the reference cannot hide one in a submission.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from grader.rubric import check_close, check_int, check_shape, check_tuple_of_ints, jacobian, question, randn, vjp


def torch_conv1d(x: torch.Tensor, W: torch.Tensor, stride: int) -> torch.Tensor:
    """The ground truth for conv1d_forward: one unbatched, unpadded cross-correlation."""
    return F.conv1d(x[None], W, stride=stride)[0]


def torch_conv2d_output_shape(
    in_shape: tuple[int, int, int], kernel_size: int | tuple[int, int], num_filters: int, stride: int, padding: int,
    dilation: int,
) -> tuple[int, ...]:
    """The ground truth for conv2d_output_shape: the shape of what nn.Conv2d makes of a zero input."""
    conv = torch.nn.Conv2d(in_shape[0], num_filters, kernel_size, stride=stride, padding=padding, dilation=dilation)
    return tuple(conv(torch.zeros(1, *in_shape)).shape[1:])


def case_id(names: str, sizes: tuple[int, ...]) -> str:
    """Every size a student needs to rebuild the case, e.g. "C2-L11-K4-S3"."""
    return "-".join(f"{name}{size}" for name, size in zip(names.split(), sizes, strict=True))


def cases(table: list[tuple[int, ...]], names: str, base_seed: int) -> list:
    """One pytest case per table row, each with its own input seed, named by its sizes."""
    return [pytest.param(base_seed + 10 * i, *sizes, id=case_id(names, sizes)) for i, sizes in enumerate(table)]


def conv_inputs(seed: int, F_: int, C: int, L: int, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (C, L) and W (F, C, K)."""
    return randn(seed, C, L), randn(seed + 1, F_, C, K)


# 1.1a


SHAPE_LABELS = ("F", "H_out", "W_out")


@question("1.1a")
@pytest.mark.parametrize("C, F_", [(3, 8), (1, 16)], ids=["C3-H21-W12-K4x5-F8-S4", "C1-H21-W12-K4x5-F16-S4"])
def test_worked_example_shape(student, C: int, F_: int) -> None:
    actual = student.conv2d_output_shape((C, 21, 12), (4, 5), F_, stride=4)
    check_tuple_of_ints(actual, (F_, 5, 2), name="conv2d_output_shape()", labels=SHAPE_LABELS)


# 1.1b

SIZE_CASES = [  # (L, K, S, P, D)
    (10, 3, 1, 0, 1),
    (14, 4, 3, 0, 1),
    (9, 3, 1, 2, 1),
    (12, 3, 2, 0, 2),
]

SHAPE_CASES = {  # (in_shape, kernel_size, num_filters, stride, padding, dilation)
    "C3-H8-W8-K3-F4-S1-P0-D1": ((3, 8, 8), 3, 4, 1, 0, 1),
    "C2-H9-W12-K2x5-F6-S2-P0-D1": ((2, 9, 12), (2, 5), 6, 2, 0, 1),
    "C1-H7-W6-K3x2-F3-S1-P1-D1": ((1, 7, 6), (3, 2), 3, 1, 1, 1),
    "C4-H11-W10-K3x3-F5-S2-P2-D2": ((4, 11, 10), (3, 3), 5, 2, 2, 2),
}


@question("1.1b")
@pytest.mark.parametrize("L, K, S, P, D", SIZE_CASES, ids=[case_id("L K S P D", sizes) for sizes in SIZE_CASES])
def test_conv_output_size(student, once, L: int, K: int, S: int, P: int, D: int) -> None:
    expected = once(
        "size", lambda: F.conv1d(torch.zeros(1, 1, L), torch.zeros(1, 1, K), stride=S, padding=P, dilation=D).shape[-1]
    )
    check_int(student.conv_output_size(L, K, S, P, D), expected, name="conv_output_size()")


@question("1.1b")
@pytest.mark.parametrize(
    "in_shape, kernel_size, num_filters, stride, padding, dilation", SHAPE_CASES.values(), ids=SHAPE_CASES.keys()
)
def test_conv2d_output_shape(
    student,
    once,
    in_shape: tuple[int, int, int],
    kernel_size: int | tuple[int, int],
    num_filters: int,
    stride: int,
    padding: int,
    dilation: int,
) -> None:
    expected = once(
        "shape", lambda: torch_conv2d_output_shape(in_shape, kernel_size, num_filters, stride, padding, dilation)
    )
    actual = student.conv2d_output_shape(
        in_shape, kernel_size, num_filters, stride=stride, padding=padding, dilation=dilation
    )
    check_tuple_of_ints(actual, expected, name="conv2d_output_shape()", labels=SHAPE_LABELS)


# 1.1c: the handout's example is C=5, L=7, K=3, S=2 with one filter (L_out = 3).

EXAMPLE = (5, 7, 3, 2)  # (C, L, K, S)

FORWARD_CASES = [  # (F, C, L, K, S)
    (1, *EXAMPLE),
    (3, 2, 9, 4, 1),
    (2, 3, 10, 2, 3),
    (4, 1, 5, 5, 1),
]

ONE_FILTER_CASES = [  # (C, L, K, S), F = 1
    EXAMPLE,
    (3, 6, 2, 1),
    (2, 11, 4, 3),
]

GRAD_CASES = [  # (F, C, L, K, S)
    (1, 2, 6, 3, 1),
    (2, 3, 8, 3, 2),
    (3, 2, 9, 4, 1),
    (2, 4, 11, 2, 3),
    (4, 1, 9, 5, 2),
]


@question("1.1c.i")
@pytest.mark.parametrize("seed, F_, C, L, K, S", cases(FORWARD_CASES, "F C L K S", 100))
def test_conv1d_forward(student, once, seed: int, F_: int, C: int, L: int, K: int, S: int) -> None:
    x, W = conv_inputs(seed, F_, C, L, K)
    expected = once("out", lambda: torch_conv1d(x, W, S))
    check_close(student.conv1d_forward(x, W, stride=S), expected, name="conv1d_forward() out", axes=("f", "t"))


@question("1.1c.ii")
def test_conv1d_jacobian_W_example_shape(student) -> None:
    C, L, K, S = EXAMPLE
    x, W = conv_inputs(190, 1, C, L, K)
    check_shape(student.conv1d_jacobian_W(x, W, stride=S), (3, 1, 5, 3), name="conv1d_jacobian_W() J")


@question("1.1c.ii")
@pytest.mark.parametrize("seed, C, L, K, S", cases(ONE_FILTER_CASES, "C L K S", 200))
def test_conv1d_jacobian_W(student, once, seed: int, C: int, L: int, K: int, S: int) -> None:
    x, W = conv_inputs(seed, 1, C, L, K)
    expected = once("J", lambda: jacobian(partial(torch_conv1d, stride=S), x, W, wrt=1)[0])  # (L_out, 1, C, K)
    actual = student.conv1d_jacobian_W(x, W, stride=S)
    check_close(actual, expected, name="conv1d_jacobian_W() J", axes=("t", "f", "c", "m"))


@question("1.1c.iii")
def test_conv1d_jacobian_x_example_shape(student) -> None:
    C, L, K, S = EXAMPLE
    x, W = conv_inputs(290, 1, C, L, K)
    check_shape(student.conv1d_jacobian_x(x, W, stride=S), (3, 5, 7), name="conv1d_jacobian_x() J")


@question("1.1c.iii")
@pytest.mark.parametrize("seed, C, L, K, S", cases(ONE_FILTER_CASES, "C L K S", 300))
def test_conv1d_jacobian_x(student, once, seed: int, C: int, L: int, K: int, S: int) -> None:
    x, W = conv_inputs(seed, 1, C, L, K)
    expected = once("J", lambda: jacobian(partial(torch_conv1d, stride=S), x, W, wrt=0)[0])  # (L_out, C, L)
    actual = student.conv1d_jacobian_x(x, W, stride=S)
    check_close(actual, expected, name="conv1d_jacobian_x() J", axes=("t", "c", "n"))


@question("1.1c.iv")
@pytest.mark.parametrize("seed, F_, C, L, K, S", cases(GRAD_CASES, "F C L K S", 400))
def test_conv1d_grad_W(student, once, seed: int, F_: int, C: int, L: int, K: int, S: int) -> None:
    x, W = conv_inputs(seed, F_, C, L, K)
    out_shape = once("out shape", lambda: torch_conv1d(x, W, S).shape)
    grad_out = randn(seed + 2, *out_shape)  # a random upstream gradient, never all ones
    expected = once("dl/dW", lambda: vjp(partial(torch_conv1d, stride=S), (x, W), grad_out, wrt=1))
    actual = student.conv1d_grad_W(x, W, grad_out, stride=S)
    check_close(actual, expected, name="conv1d_grad_W() dl/dW", axes=("f", "c", "m"))
