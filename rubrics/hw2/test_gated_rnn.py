"""1.2.1 Gated RNN: the shape of c, the forward values and dl/dW_x.

The ground truth is the handout's recurrence written out step by step below, and autograd
through it for the gradient; reference.py is not consulted.
"""

from __future__ import annotations

import pytest
import torch

from grader.rubric import check_close, check_pair, check_shape, question, randn


def gated_rnn(
    x: torch.Tensor, W_c: torch.Tensor, W_h: torch.Tensor, W_x: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """h[1..T] and c[1..T] as lists, so that autograd can report the gradient of each h[t]."""
    h = x.new_zeros(W_h.shape[0])
    hs, cs = [], []
    for x_t in x:
        c = torch.sigmoid(W_c @ x_t + W_h @ h)
        h = c * h + (1 - c) * (W_x @ x_t)
        hs.append(h)
        cs.append(c)
    return hs, cs


def grad_Wx_ground_truth(
    x: torch.Tensor, W_c: torch.Tensor, W_h: torch.Tensor, W_x: torch.Tensor, upstream: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Autograd through gated_rnn for the loss sum_t upstream[t] . h[t]: (dl/dh, c, dl/dW_x)."""
    W_x = W_x.requires_grad_()
    hs, cs = gated_rnn(x, W_c, W_h, W_x)
    for h in hs:
        h.retain_grad()
    sum(torch.dot(g, h) for g, h in zip(upstream, hs, strict=True)).backward()
    grad_h = torch.stack([h.grad for h in hs])  # total dl/dh[t], later steps included
    c = torch.stack(cs).detach()
    return grad_h, c, W_x.grad


def rnn_inputs(seed: int, T: int, n: int, m: int) -> tuple[torch.Tensor, ...]:
    """x (T, n), W_c (m, n), W_h (m, m), W_x (m, n)."""
    return randn(seed, T, n), randn(seed + 1, m, n), randn(seed + 2, m, m), randn(seed + 3, m, n)


def case(seed: int, T: int, n: int, m: int) -> object:
    """A (seed, T, n, m) case, named by its sizes."""
    return pytest.param(seed, T, n, m, id=f"T{T}-n{n}-m{m}")


# n != m in all but one case, so that mixing up n and m shows as a wrong shape. Rows of h, c and
# the gradients are indexed t-1: row 0 holds step t = 1.
SHAPE_CASES = [case(500, 4, 3, 5), case(510, 5, 4, 2)]
FORWARD_CASES = [case(520, 5, 3, 3), case(530, 4, 2, 4), case(540, 6, 5, 2)]
GRAD_CASES = [case(550, 5, 3, 4), case(560, 6, 4, 2)]


@question("1.2.1b")
@pytest.mark.parametrize("seed, T, n, m", SHAPE_CASES)
def test_c_shape(student, seed: int, T: int, n: int, m: int) -> None:
    _, c = check_pair(student.gated_rnn_forward(*rnn_inputs(seed, T, n, m)), name="gated_rnn_forward()")
    check_shape(c, (T, m), name="gated_rnn_forward() c")


@question("1.2.1c")
@pytest.mark.parametrize("seed, T, n, m", FORWARD_CASES)
def test_forward_values(student, once, seed: int, T: int, n: int, m: int) -> None:
    inputs = rnn_inputs(seed, T, n, m)
    hs, cs = once("h and c", lambda: tuple(torch.stack(v) for v in gated_rnn(*inputs)))  # (T, m) each
    h, c = check_pair(student.gated_rnn_forward(*inputs), name="gated_rnn_forward()")
    check_close(h, hs, name="gated_rnn_forward() h", axes=("t-1", "i"))
    check_close(c, cs, name="gated_rnn_forward() c", axes=("t-1", "i"))


@question("1.2.1c")
@pytest.mark.parametrize("seed, T, n, m", GRAD_CASES)
def test_grad_Wx(student, once, seed: int, T: int, n: int, m: int) -> None:
    x, W_c, W_h, W_x = rnn_inputs(seed, T, n, m)
    upstream = randn(seed + 4, T, m)  # the loss is sum_t upstream[t] . h[t]
    grad_h, c, expected = once("dl/dh, c and dl/dW_x", lambda: grad_Wx_ground_truth(x, W_c, W_h, W_x, upstream))
    # The student gets copies: the remembered tensors serve every later submission too.
    actual = student.gated_rnn_grad_Wx(x, c.clone(), grad_h.clone())
    check_close(actual, expected, name="gated_rnn_grad_Wx() dl/dW_x", axes=("i", "j"))
