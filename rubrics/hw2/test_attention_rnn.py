"""1.2.3 AttentionRNN: shapes, forward values for k = 1..4 and inf, dh[t]/dh[t-1] and BPTT.

The ground truth is the handout's definition written out step by step below (zero sources
h[s] = 0 for s < 1 join the softmax with score 0), and autograd through it for derivatives;
reference.py is not consulted.
"""

from __future__ import annotations

import pytest
import torch

from grader.rubric import check_close, check_pair, check_shape, jacobian, question, randn


# Every case has scores of order 1 (every step has one of size 0.25 to 6): a saturated softmax
# hides a missing source or a wrong weight, and a nearly uniform one makes the softmax's derivative
# vanish below the tolerance, so a Jacobian without it would pass. A score (Q s).(K s) spreads as
# scale^2 n^1.5 for standard normal entries, so Q, K, V are scaled by n^-0.75, and the seeds are
# chosen (`grader rubric check` finds a case where a known mistake gives the right answer).
def weight_scale(n: int) -> float:
    return float(n) ** -0.75


Matrices = torch.Tensor | list[torch.Tensor]  # one (n, n) matrix per source, indexed by source


def attend(
    sources: list[torch.Tensor], Q: Matrices, K: Matrices, V: Matrices
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: h = sum_i a_i V_i s_i with a = softmax_i((Q_i s_i) . (K_i s_i)); returns (h, a)."""
    scores = torch.stack([torch.dot(Q[i] @ s, K[i] @ s) for i, s in enumerate(sources)])
    a = torch.softmax(scores, dim=0)
    h = sum(a[i] * (V[i] @ s) for i, s in enumerate(sources))
    return h, a


def attention_rnn(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """AttentionRNN(k): h[1..T] and a[1..T] as lists, so that autograd can reach each h[t]."""
    k = Q.shape[0] - 1
    zero = x.new_zeros(x.shape[1])
    hs, weights = [], []
    for t, x_t in enumerate(x):  # hs[t - i] is h at i steps back; none there means h[s < 1] = 0
        past = [hs[t - i] if t - i >= 0 else zero for i in range(1, k + 1)]
        h, a = attend([x_t, *past], Q, K, V)
        hs.append(h)
        weights.append(a)
    return hs, weights


def attention_rnn_inf(x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """AttentionRNN(inf): step t attends to x[t], h[t-1], ..., h[1] and h[0] = 0, sharing Q, K, V."""
    hs: list[torch.Tensor] = []
    for x_t in x:
        sources = [x_t, *reversed(hs), x.new_zeros(x.shape[1])]
        count = len(sources)
        hs.append(attend(sources, [Q] * count, [K] * count, [V] * count)[0])
    return torch.stack(hs)


def attention_rnn_bptt(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, grad_h: torch.Tensor
) -> torch.Tensor:
    """Total dl/dh[t] (through every k-step connection) for the loss sum_t grad_h[t] . h[t], by autograd."""
    hs, _ = attention_rnn(x.clone().requires_grad_(), Q, K, V)  # a leaf, so that every h[t] has a graph
    for h in hs:
        h.retain_grad()
    sum(torch.dot(g, h) for g, h in zip(grad_h, hs, strict=True)).backward()
    return torch.stack([h.grad for h in hs])


def qkv(seed: int, k: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q, K, V of shape (k+1, n, n)."""
    return tuple(weight_scale(n) * randn(seed + i, k + 1, n, n) for i in range(3))


def case(seed: int, k: int, T: int, n: int) -> object:
    """A (seed, k, T, n) case of AttentionRNN(k), named by its sizes."""
    return pytest.param(seed, k, T, n, id=f"k{k}-T{T}-n{n}")


# Rows of h, a and the gradients are indexed t-1 (row 0 holds step t = 1); a's columns are sources.
SHAPE_CASES = [case(600, 2, 4, 3), case(610, 2, 6, 2)]


@question("1.2.3b")
@pytest.mark.parametrize("seed, k, T, n", SHAPE_CASES)
def test_attention_weights_shape(student, seed: int, k: int, T: int, n: int) -> None:
    result = student.attention_rnn_forward(randn(seed, T, n), *qkv(seed + 1, k, n))
    _, a = check_pair(result, name="attention_rnn_forward()")
    check_shape(a, (T, k + 1), name="attention_rnn_forward() a")


FORWARD_CASES = [
    case(11620, 1, 5, 3),
    case(1630, 2, 6, 2),
    case(24640, 3, 6, 4),
    case(7650, 4, 6, 3),
    case(4660, 4, 3, 2),
    case(4670, 2, 4, 1),
]


@question("1.2.3c")
@pytest.mark.parametrize("seed, k, T, n", FORWARD_CASES)
def test_forward_values(student, once, seed: int, k: int, T: int, n: int) -> None:
    x, (Q, K, V) = randn(seed, T, n), qkv(seed + 1, k, n)
    hs, a = once("h and a", lambda: tuple(torch.stack(v) for v in attention_rnn(x, Q, K, V)))  # (T, n) and (T, k+1)
    h_student, a_student = check_pair(student.attention_rnn_forward(x, Q, K, V), name="attention_rnn_forward()")
    check_close(h_student, hs, name="attention_rnn_forward() h", axes=("t-1", "r"))
    check_close(a_student, a, name="attention_rnn_forward() a", axes=("t-1", "i"))


INF_CASES = [  # (seed, T, n)
    pytest.param(1700, 4, 3, id="T4-n3"),
    pytest.param(5710, 6, 2, id="T6-n2"),
    pytest.param(4720, 5, 4, id="T5-n4"),
]


@question("1.2.3d")
@pytest.mark.parametrize("seed, T, n", INF_CASES)
def test_inf_forward_values(student, once, seed: int, T: int, n: int) -> None:
    x, (Q, K, V) = randn(seed, T, n), qkv(seed + 1, 0, n)
    Q, K, V = Q[0], K[0], V[0]  # one shared (n, n) matrix each
    expected = once("h", lambda: attention_rnn_inf(x, Q, K, V))
    actual = student.attention_rnn_inf_forward(x, Q, K, V)
    check_close(actual, expected, name="attention_rnn_inf_forward() h", axes=("t-1", "r"))


def step_h(
    x_t: torch.Tensor, h_prev: torch.Tensor, h_prev2: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
) -> torch.Tensor:
    """h[t] of AttentionRNN(2) as a function of its three sources."""
    return attend([x_t, h_prev, h_prev2], Q, K, V)[0]


JACOBIAN_CASES = [  # (seed, n, early)
    pytest.param(2800, 3, False, id="n3"),
    pytest.param(810, 2, False, id="n2"),
    pytest.param(1820, 4, False, id="n4"),
    pytest.param(7830, 1, False, id="n1"),
    pytest.param(4840, 3, True, id="n3-t2"),  # at t = 2 the source h[t-2] = h[0] is zero
]


@question("1.2.3e")
@pytest.mark.parametrize("seed, n, early", JACOBIAN_CASES)
def test_dh_dhprev(student, once, seed: int, n: int, early: bool) -> None:
    x_t, h_prev, h_prev2 = randn(seed, n), randn(seed + 1, n), randn(seed + 2, n)
    if early:
        h_prev2 = torch.zeros_like(h_prev2)
    Q, K, V = qkv(seed + 3, 2, n)
    expected = once("J", lambda: jacobian(step_h, x_t, h_prev, h_prev2, Q, K, V, wrt=1))
    actual = student.attention_rnn_dh_dhprev(x_t, h_prev, h_prev2, Q, K, V)
    check_close(actual, expected, name="attention_rnn_dh_dhprev() J", axes=("r", "s"))


BACKWARD_CASES = [case(900, 1, 5, 3), case(12910, 2, 6, 2), case(10920, 3, 6, 3), case(930, 3, 3, 2)]


@question("1.2.3f")
@pytest.mark.parametrize("seed, k, T, n", BACKWARD_CASES)
def test_backward(student, once, seed: int, k: int, T: int, n: int) -> None:
    x, (Q, K, V) = randn(seed, T, n), qkv(seed + 1, k, n)
    grad_h = randn(seed + 4, T, n)  # direct gradients of the loss sum_t grad_h[t] . h[t]
    expected = once("dl/dh", lambda: attention_rnn_bptt(x, Q, K, V, grad_h))  # total dl/dh[t], every k-step connection
    actual = student.attention_rnn_backward(x, Q, K, V, grad_h)
    check_close(actual, expected, name="attention_rnn_backward() dl/dh", axes=("t-1", "r"))
