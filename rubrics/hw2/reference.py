"""HW2 reference solution (trusted): the formulas of hw2-api.md, written to be read.

Gradients and Jacobians use closed forms rather than autograd, so that the rubric's autograd
ground truth checks them independently. Everything a function creates takes the device and
dtype of its inputs, so the same code runs on float64 CPU and CUDA tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# 1.1 Convolutions


def conv_output_size(L: int, K: int, S: int = 1, P: int = 0, D: int = 1) -> int:
    """floor((L + 2P - ((K-1)D + 1)) / S) + 1."""
    return (L + 2 * P - ((K - 1) * D + 1)) // S + 1


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def conv2d_output_shape(
    in_shape: tuple[int, int, int],
    kernel_size: int | tuple[int, int],
    num_filters: int,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int]:
    """(F, H_out, W_out): each spatial axis is a 1-D convolution of its own."""
    _, height, width = in_shape
    sizes = zip((height, width), _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation), strict=True)
    h_out, w_out = (conv_output_size(*axis) for axis in sizes)
    return (num_filters, h_out, w_out)


def conv1d_forward(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """out[f, t] = sum_c sum_m W[f, c, m] x[c, t*stride + m]; x (C, L), W (F, C, K) -> (F, L_out)."""
    return F.conv1d(x[None], W, stride=stride)[0]


def _windows(x: torch.Tensor, K: int, stride: int) -> torch.Tensor:
    """windows[c, t, m] = x[c, t*stride + m], shape (C, L_out, K)."""
    return x.unfold(1, K, stride)


def conv1d_jacobian_W(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """J[t, 0, c, m] = d out[0, t] / d W[0, c, m] = x[c, t*stride + m]; shape (L_out, 1, C, K)."""
    return _windows(x, W.shape[-1], stride).permute(1, 0, 2)[:, None].clone()


def conv1d_jacobian_x(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """J[t, c, n] = d out[0, t] / d x[c, n] = W[0, c, n - t*stride] inside the window; (L_out, C, L)."""
    C, L = x.shape
    K = W.shape[-1]
    L_out = conv_output_size(L, K, stride)
    J = x.new_zeros(L_out, C, L)
    for t in range(L_out):
        J[t, :, t * stride : t * stride + K] = W[0]
    return J


def conv1d_grad_W(x: torch.Tensor, W: torch.Tensor, grad_out: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """dl/dW[f, c, m] = sum_t grad_out[f, t] x[c, t*stride + m]; shape (F, C, K)."""
    return torch.einsum("ft,ctm->fcm", grad_out, _windows(x, W.shape[-1], stride))


# 1.2.1 Gated RNN


def gated_rnn_forward(
    x: torch.Tensor, W_c: torch.Tensor, W_h: torch.Tensor, W_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """c[t] = sigmoid(W_c x[t] + W_h h[t-1]), h[t] = c[t] h[t-1] + (1 - c[t]) W_x x[t], h[0] = 0."""
    h = x.new_zeros(W_h.shape[0])
    hs, cs = [], []
    for x_t in x:
        c = torch.sigmoid(W_c @ x_t + W_h @ h)
        h = c * h + (1 - c) * (W_x @ x_t)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


def gated_rnn_grad_Wx(x: torch.Tensor, c: torch.Tensor, grad_h: torch.Tensor) -> torch.Tensor:
    """dl/dW_x = sum_t (grad_h[t] * (1 - c[t])) x[t]^T; shape (m, n)."""
    return (grad_h * (1 - c)).T @ x


# 1.2.3 AttentionRNN


def _attend(
    sources: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step over stacked sources (S, n) with per-source matrices (S, n, n): (h, a, v)."""
    q = torch.einsum("irs,is->ir", Q, sources)
    k = torch.einsum("irs,is->ir", K, sources)
    v = torch.einsum("irs,is->ir", V, sources)
    a = torch.softmax((q * k).sum(dim=1), dim=0)
    return a @ v, a, v


def _sources(x_t: torch.Tensor, history: list[torch.Tensor], k: int) -> torch.Tensor:
    """x[t], h[t-1], ..., h[t-k] with h[s] = 0 for s < 1; `history` holds h[1..t-1]."""
    zero = x_t.new_zeros(x_t.shape)
    past = [history[-i] if i <= len(history) else zero for i in range(1, k + 1)]
    return torch.stack([x_t, *past])


def attention_rnn_forward(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """AttentionRNN(k), k = Q.shape[0] - 1: h (T, n) and the attention weights a (T, k+1)."""
    k = Q.shape[0] - 1
    hs: list[torch.Tensor] = []
    weights = []
    for x_t in x:
        h, a, _ = _attend(_sources(x_t, hs, k), Q, K, V)
        hs.append(h)
        weights.append(a)
    return torch.stack(hs), torch.stack(weights)


def attention_rnn_inf_forward(x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """AttentionRNN(inf) with shared (n, n) Q, K, V: step t attends to x[t], h[t-1], ..., h[0] = 0."""
    hs: list[torch.Tensor] = []
    for t, x_t in enumerate(x):
        sources = _sources(x_t, hs, t + 1)
        count = sources.shape[0]
        h, _, _ = _attend(sources, Q.expand(count, -1, -1), K.expand(count, -1, -1), V.expand(count, -1, -1))
        hs.append(h)
    return torch.stack(hs)


def _source_jacobians(sources: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """d h / d s_i for every source, (S, n, n).

    Only w_i depends on s_i, with d w_i / d s_i = g_i = (Q_i^T K_i + K_i^T Q_i) s_i, and
    d a_j / d w_i = a_j (delta_ij - a_i), so d h / d s_i = a_i (V_i + (v_i - h) g_i^T).
    """
    h, a, v = _attend(sources, Q, K, V)
    g = torch.einsum("irs,is->ir", Q.transpose(1, 2) @ K + K.transpose(1, 2) @ Q, sources)
    return a[:, None, None] * (V + (v - h)[:, :, None] * g[:, None, :])


def attention_rnn_dh_dhprev(
    x_t: torch.Tensor,
    h_prev: torch.Tensor,
    h_prev2: torch.Tensor,
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
) -> torch.Tensor:
    """J[r, s] = d h[t]_r / d h[t-1]_s for AttentionRNN(2); shape (n, n)."""
    return _source_jacobians(torch.stack([x_t, h_prev, h_prev2]), Q, K, V)[1]


def attention_rnn_backward(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, grad_h: torch.Tensor
) -> torch.Tensor:
    """Total dl/dh[t] for l = sum_t grad_h[t] . h[t]: h[t] feeds h[t+1], ..., h[t+k] directly.

    Backwards in time: total[t] = grad_h[t] + sum_i (d h[t+i] / d source_i)^T total[t+i].
    """
    k = Q.shape[0] - 1
    T = x.shape[0]
    hs: list[torch.Tensor] = []
    jacobians = []
    for x_t in x:
        sources = _sources(x_t, hs, k)
        hs.append(_attend(sources, Q, K, V)[0])
        jacobians.append(_source_jacobians(sources, Q, K, V))
    total = grad_h.clone()
    for t in reversed(range(T)):
        for i in range(1, k + 1):
            if t + i < T:
                total[t] += jacobians[t + i][i].T @ total[t + i]
    return total


# 1.3 Loss curves


def initial_loss(num_classes: int) -> float:
    """Cross-entropy of the uniform prediction 1/C: -ln(1/C) = ln C."""
    return math.log(num_classes)


def initial_accuracy(num_classes: int) -> float:
    """A uniform (or constant) guess is right for one class in C."""
    return 1.0 / num_classes
