"""HW2: convolutions, a gated RNN and AttentionRNN.

Fill in every function below and submit this file as `hw2.py` (or a notebook that defines them).
The autograder calls each function with float64 tensors (CUDA tensors where a GPU is present),
so create new tensors on the input's device and dtype (`x.new_zeros(...)`, `torch.zeros_like`).
Indexing is 0-based in code. Do not change the inputs. Extra helper functions are welcome.
"""

from __future__ import annotations

import torch

# 1.1 Convolutions


def conv_output_size(L: int, K: int, S: int = 1, P: int = 0, D: int = 1) -> int:
    """Output length of a 1-D convolution (1.1b).

    Length L, kernel K, stride S, padding P, dilation D:
    floor((L + 2P - ((K-1)D + 1)) / S) + 1.
    """
    raise NotImplementedError


def conv2d_output_shape(
    in_shape: tuple[int, int, int],
    kernel_size: int | tuple[int, int],
    num_filters: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> tuple[int, int, int]:
    """Output shape (F, H_out, W_out) of a 2-D convolution (1.1a, 1.1b).

    `in_shape` is (C, H, W); `kernel_size` is an int or (kh, kw); F = num_filters.
    Example: conv2d_output_shape((C, 21, 12), (4, 5), F, stride=4) == (F, 5, 2).
    """
    raise NotImplementedError


def conv1d_forward(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """A 1-D cross-correlation without padding, dilation or bias (1.1c.i).

    x: (C, L); W: (F, C, K); returns out: (F, L_out) with
    out[f, t] = sum_c sum_m W[f, c, m] * x[c, t*stride + m]
    (equal to F.conv1d(x[None], W, stride=stride)[0]).
    """
    raise NotImplementedError


def conv1d_jacobian_W(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Jacobian of conv1d_forward with respect to W, for one filter (1.1c.ii).

    x: (C, L); W: (1, C, K); returns J: (L_out, 1, C, K) with
    J[t, 0, c, m] = d out[0, t] / d W[0, c, m].
    Example: C=5, L=7, K=3, stride=2 gives shape (3, 1, 5, 3).
    """
    raise NotImplementedError


def conv1d_jacobian_x(x: torch.Tensor, W: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Jacobian of conv1d_forward with respect to x, for one filter (1.1c.iii).

    x: (C, L); W: (1, C, K); returns J: (L_out, C, L) with
    J[t, c, n] = d out[0, t] / d x[c, n].
    Example: C=5, L=7, K=3, stride=2 gives shape (3, 5, 7).
    """
    raise NotImplementedError


def conv1d_grad_W(x: torch.Tensor, W: torch.Tensor, grad_out: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Gradient of a loss with respect to W (1.1c.iv).

    x: (C, L); W: (F, C, K); grad_out = dl/d out: (F, L_out); returns dl/dW: (F, C, K).
    """
    raise NotImplementedError


# 1.2.1 Gated RNN:
#   c[t] = sigmoid(W_c x[t] + W_h h[t-1])
#   h[t] = c[t] * h[t-1] + (1 - c[t]) * (W_x x[t]),   h[0] = 0


def gated_rnn_forward(
    x: torch.Tensor, W_c: torch.Tensor, W_h: torch.Tensor, W_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the gated RNN over a sequence (1.2.1b, 1.2.1c).

    x: (T, n); W_c: (m, n); W_h: (m, m); W_x: (m, n).
    Returns (h, c), each (T, m); row t-1 holds step t = 1..T.
    """
    raise NotImplementedError


def gated_rnn_grad_Wx(x: torch.Tensor, c: torch.Tensor, grad_h: torch.Tensor) -> torch.Tensor:
    """dl/dW_x of the gated RNN (1.2.1c).

    x: (T, n); c: (T, m) from the forward pass; grad_h: (T, m), where grad_h[t] is the total
    gradient dl/dh[t] (everything that flows into h[t] from the loss, future steps included).
    Returns dl/dW_x = sum_t (grad_h[t] * (1 - c[t])) x[t]^T, of shape (m, n).
    """
    raise NotImplementedError


# 1.2.3 AttentionRNN(k): Q, K, V each of shape (k+1, n, n). Source 0 is x[t], source i >= 1 is
# h[t-i], and h[s] = 0 for s < 1 (such sources still take part in the softmax, with score 0):
#   q_i = Q[i] s_i,  k_i = K[i] s_i,  v_i = V[i] s_i,  w_i = q_i . k_i,  a = softmax(w),
#   h[t] = sum_i a_i v_i


def attention_rnn_forward(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run AttentionRNN(k), k = Q.shape[0] - 1 (1.2.3b, 1.2.3c).

    x: (T, n); Q, K, V: (k+1, n, n). Returns (h, a): h (T, n) and the attention weights a (T, k+1).
    """
    raise NotImplementedError


def attention_rnn_inf_forward(x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Run AttentionRNN(inf) with shared Q, K, V of shape (n, n) (1.2.3d).

    At step t the sources are x[t], h[t-1], ..., h[0] (t+1 of them, h[0] = 0).
    x: (T, n); returns h: (T, n).
    """
    raise NotImplementedError


def attention_rnn_dh_dhprev(
    x_t: torch.Tensor,
    h_prev: torch.Tensor,
    h_prev2: torch.Tensor,
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
) -> torch.Tensor:
    """The Jacobian d h[t] / d h[t-1] of AttentionRNN(2) (1.2.3e).

    Evaluated at x[t] = x_t, h[t-1] = h_prev, h[t-2] = h_prev2 (each (n,)); Q, K, V: (3, n, n).
    Returns J: (n, n) with J[r, s] = d h[t]_r / d h[t-1]_s.
    """
    raise NotImplementedError


def attention_rnn_backward(
    x: torch.Tensor, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, grad_h: torch.Tensor
) -> torch.Tensor:
    """Backpropagation through time in AttentionRNN(k) (1.2.3f).

    x: (T, n); Q, K, V: (k+1, n, n); grad_h: (T, n), where grad_h[t] is the direct gradient of
    the loss on h[t] (the loss is sum_t grad_h[t] . h[t]). Returns the total gradient dl/dh[t]
    for every t, through all k-step connections: (T, n).
    """
    raise NotImplementedError


# 1.3 Loss curves


def initial_loss(num_classes: int) -> float:
    """Cross-entropy of a uniform prediction over C = num_classes classes (1.3.4)."""
    raise NotImplementedError


def initial_accuracy(num_classes: int) -> float:
    """Accuracy of a uniform prediction over C = num_classes classes (1.3.4)."""
    raise NotImplementedError
