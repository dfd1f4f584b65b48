"""HW2's known mistakes (trusted, never shown to students): each is the function a student with
that mistake writes, with the student function's signature. A student whose wrong answers all
equal one is told its title and hint, which explain the mistake without giving the answer and
never show a test's inputs.

`when` keeps a mistake to the calls where it gives another answer than the right one;
`grader rubric check rubrics/hw2` proves that it does on every case it is used for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grader.rubric import misconception

# 1.1 Output sizes


def _size(L, K, S, P, D, *, floor=True, pad=True, dilate=True):
    span = (K - 1) * (D if dilate else 1) + 1
    room = L + (2 * P if pad else 0) - span
    return (room // S if floor else room / S) + 1


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _shape(in_shape, kernel_size, num_filters, stride, padding, dilation, *, swap=False, **mistake):
    kernel = _pair(kernel_size)[::-1] if swap else _pair(kernel_size)
    axes = zip(in_shape[1:], kernel, _pair(stride), _pair(padding), _pair(dilation), strict=True)
    return (num_filters, *(_size(*axis, **mistake) for axis in axes))


TRUE_DIVISION = dict(title="true division instead of floor division in the output size",
                     hint="an output exists only where the whole kernel fits; a last partial stride makes none, "
                          "so the number of strides is rounded down, and the size is an int")
NO_DILATION = dict(title="the dilation is ignored",
                   hint="a kernel of K taps with dilation D covers (K-1)*D + 1 inputs, not K")
NO_PADDING = dict(title="the padding is ignored",
                  hint="padding P adds P zeros at both ends of the input before the kernel slides")


@misconception("conv_output_size", id="size-true-division", **TRUE_DIVISION)
def size_true_division(L, K, S=1, P=0, D=1):
    return _size(L, K, S, P, D, floor=False)


@misconception("conv_output_size", id="size-no-dilation", when=lambda L, K, S=1, P=0, D=1: D != 1, **NO_DILATION)
def size_no_dilation(L, K, S=1, P=0, D=1):
    return _size(L, K, S, P, D, dilate=False)


@misconception("conv_output_size", id="size-no-padding", when=lambda L, K, S=1, P=0, D=1: P != 0, **NO_PADDING)
def size_no_padding(L, K, S=1, P=0, D=1):
    return _size(L, K, S, P, D, pad=False)


@misconception("conv2d_output_shape", id="shape-true-division", **TRUE_DIVISION)
def shape_true_division(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _shape(in_shape, kernel_size, num_filters, stride, padding, dilation, floor=False)


def _dilated(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _pair(dilation) != (1, 1)


def _padded(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _pair(padding) != (0, 0)


def _rectangular(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    kh, kw = _pair(kernel_size)
    return kh != kw


@misconception("conv2d_output_shape", id="shape-no-dilation", when=_dilated, **NO_DILATION)
def shape_no_dilation(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _shape(in_shape, kernel_size, num_filters, stride, padding, dilation, dilate=False)


@misconception("conv2d_output_shape", id="shape-no-padding", when=_padded, **NO_PADDING)
def shape_no_padding(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _shape(in_shape, kernel_size, num_filters, stride, padding, dilation, pad=False)


@misconception("conv2d_output_shape", id="shape-kernel-swapped",
               title="the kernel's height and width are swapped",
               hint="kernel_size is (kh, kw): kh slides along the height H = in_shape[1], kw along the width",
               when=_rectangular)
def shape_kernel_swapped(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    return _shape(in_shape, kernel_size, num_filters, stride, padding, dilation, swap=True)


# 1.1c conv1d


@misconception("conv1d_forward", id="forward-no-stride", title="the stride is ignored",
               hint="with stride S, output t reads the window that starts at input t*S, so there are fewer outputs",
               when=lambda x, W, stride=1: stride != 1)
def conv1d_forward_no_stride(x, W, stride=1):
    return F.conv1d(x[None], W)[0]


@misconception("conv1d_forward", id="forward-flipped-kernel",
               title="true convolution (a flipped kernel) instead of cross-correlation",
               hint="a convolution layer slides W as it is: out[f, t] pairs W[f, c, m] with x[c, t*S + m]",
               when=lambda x, W, stride=1: W.shape[-1] > 1)
def conv1d_forward_flipped(x, W, stride=1):
    return F.conv1d(x[None], W.flip(-1), stride=stride)[0]


def _windows(x, K, stride):
    """windows[c, t, m] = x[c, t*stride + m]: (C, L_out, K)."""
    return x.unfold(1, K, stride)


@misconception("conv1d_jacobian_W", id="jacobian-W-no-stride", title="the stride is ignored",
               hint="only the windows that start at multiples of the stride make outputs, one row of J each",
               when=lambda x, W, stride=1: stride != 1)
def conv1d_jacobian_W_no_stride(x, W, stride=1):
    return _windows(x, W.shape[-1], 1).permute(1, 0, 2)[:, None]


@misconception("conv1d_jacobian_x", id="jacobian-x-no-stride", title="the stride is ignored",
               hint="only the windows that start at multiples of the stride make outputs, one row of J each",
               when=lambda x, W, stride=1: stride != 1)
def conv1d_jacobian_x_no_stride(x, W, stride=1):
    return _jacobian_x(x, W, 1)


def _jacobian_x(x, W, stride):
    C, L = x.shape
    K = W.shape[-1]
    J = x.new_zeros((L - K) // stride + 1, C, L)
    for t in range(J.shape[0]):
        J[t, :, t * stride : t * stride + K] = W[0]
    return J


@misconception("conv1d_jacobian_x", id="jacobian-x-transposed", title="the Jacobian's axes are transposed",
               hint="J[t, c, n] = d out[0, t] / d x[c, n]: the output's index comes first, then the input's")
def conv1d_jacobian_x_transposed(x, W, stride=1):
    return _jacobian_x(x, W, stride).transpose(0, 1)


@misconception("conv1d_grad_W", id="grad-W-ones-upstream", title="an all-ones upstream gradient",
               hint="dl/dW weighs each window by the gradient that reaches its output, grad_out[f, t]")
def conv1d_grad_W_ones(x, W, grad_out, stride=1):
    return torch.einsum("ft,ctm->fcm", torch.ones_like(grad_out), _windows(x, W.shape[-1], stride))


@misconception("conv1d_grad_W", id="grad-W-no-sum", title="no sum over the output positions t",
               hint="W is used at every output position, so dl/dW adds up one term per position (+=, not =)",
               when=lambda x, W, grad_out, stride=1: grad_out.shape[1] > 1)
def conv1d_grad_W_last_position(x, W, grad_out, stride=1):
    return grad_out[:, -1, None, None] * _windows(x, W.shape[-1], stride)[None, :, -1]


# 1.2.1 Gated RNN


@misconception("gated_rnn_forward", id="gated-rnn-gate-swapped", title="the gate's roles are swapped",
               hint="c[t] is the share of h[t-1] that is kept; (1 - c[t]) is the share of the new input W_x x[t]")
def gated_rnn_swapped(x, W_c, W_h, W_x):
    h = x.new_zeros(W_h.shape[0])
    hs, cs = [], []
    for x_t in x:
        c = torch.sigmoid(W_c @ x_t + W_h @ h)
        h = (1 - c) * h + c * (W_x @ x_t)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


@misconception("gated_rnn_grad_Wx", id="grad-Wx-no-gate", title="the (1 - c[t]) gate is left out",
               hint="W_x x[t] reaches h[t] only through the gate: h[t] = ... + (1 - c[t]) * (W_x x[t])")
def grad_Wx_no_gate(x, c, grad_h):
    return grad_h.T @ x


@misconception("gated_rnn_grad_Wx", id="grad-Wx-gate-swapped", title="the gate c[t] instead of (1 - c[t])",
               hint="c[t] multiplies h[t-1]; the new input W_x x[t] gets the other share of the gate")
def grad_Wx_gate_swapped(x, c, grad_h):
    return (grad_h * c).T @ x


@misconception("gated_rnn_grad_Wx", id="grad-Wx-no-sum", title="no sum over the time steps t",
               hint="W_x is used at every step, so dl/dW_x adds up one term per step (+=, not =)",
               when=lambda x, c, grad_h: x.shape[0] > 1)
def grad_Wx_last_step(x, c, grad_h):
    return torch.outer(grad_h[-1] * (1 - c[-1]), x[-1])


# 1.2.3 AttentionRNN


def _attend(sources, Q, K, V):
    """One step over stacked sources (S, n) with per-source matrices (S, n, n): (h, a, v)."""
    q, k, v = (torch.einsum("irs,is->ir", M, sources) for M in (Q, K, V))
    a = torch.softmax((q * k).sum(dim=1), dim=0)
    return a @ v, a, v


def _sources(x_t, history, k):
    """x[t], h[t-1], ..., h[t-k], with h[s] = 0 for s < 1; `history` holds h[1..t-1]."""
    past = [history[-i] if i <= len(history) else torch.zeros_like(x_t) for i in range(1, k + 1)]
    return torch.stack([x_t, *past])


@misconception("attention_rnn_forward", id="attention-excludes-zero-sources",
               title="the zero sources h[s < 1] are left out of the softmax",
               hint="a source h[s] = 0 has score 0, and exp(0) = 1 still counts in the softmax's denominator")
def attention_excluding_zero_sources(x, Q, K, V):
    k = Q.shape[0] - 1
    hs, weights = [], []
    for t, x_t in enumerate(x):
        real = min(t, k) + 1  # x[t] and the h[s] with s >= 1
        h, a, _ = _attend(_sources(x_t, hs, k)[:real], Q[:real], K[:real], V[:real])
        hs.append(h)
        weights.append(torch.cat([a, a.new_zeros(k + 1 - real)]))
    return torch.stack(hs), torch.stack(weights)


@misconception("attention_rnn_inf_forward", id="attention-inf-no-h0", title="h[0] is left out of the sources",
               hint="at step t the sources are x[t], h[t-1], ..., h[1] and h[0] = 0, which still takes part "
                    "in the softmax with score 0")
def attention_inf_without_h0(x, Q, K, V):
    hs = []
    for t, x_t in enumerate(x):
        sources = _sources(x_t, hs, t)
        count = sources.shape[0]
        hs.append(_attend(sources, *(M.expand(count, -1, -1) for M in (Q, K, V)))[0])
    return torch.stack(hs)


def _dh_dsource(sources, Q, K, V, i, *, softmax="full"):
    """d h / d s_i, with the softmax's derivative in full, on its diagonal only, or left out."""
    h, a, v = _attend(sources, Q, K, V)
    direct = a[i] * V[i]
    if softmax == "none":
        return direct
    g = (Q[i].T @ K[i] + K[i].T @ Q[i]) @ sources[i]  # d w_i / d s_i
    spread = v[i] - h if softmax == "full" else (1 - a[i]) * v[i]
    return direct + a[i] * torch.outer(spread, g)


@misconception("attention_rnn_dh_dhprev", id="dh-direct-only", title="only the direct a1*V1 term of dh[t]/dh[t-1]",
               hint="the attention weights depend on h[t-1] too")
def dh_direct_only(x_t, h_prev, h_prev2, Q, K, V):
    return _dh_dsource(torch.stack([x_t, h_prev, h_prev2]), Q, K, V, 1, softmax="none")


@misconception("attention_rnn_dh_dhprev", id="dh-softmax-diagonal",
               title="only the diagonal of the softmax's Jacobian in dh[t]/dh[t-1]",
               hint="raising the score of h[t-1] lowers every other source's weight too: da_j/dw_1 = -a_j a_1 "
                    "for j != 1")
def dh_softmax_diagonal(x_t, h_prev, h_prev2, Q, K, V):
    return _dh_dsource(torch.stack([x_t, h_prev, h_prev2]), Q, K, V, 1, softmax="diagonal")


@misconception("attention_rnn_backward", id="bptt-direct-only", title="only the direct gradient grad_h[t]",
               hint="h[t] also feeds h[t+1], ..., h[t+k], so the gradients of those flow back into dl/dh[t]")
def bptt_direct_only(x, Q, K, V, grad_h):
    return grad_h.clone()


@misconception("attention_rnn_backward", id="bptt-one-step", title="only the one-step connection h[t] -> h[t+1]",
               hint="in AttentionRNN(k), h[t] is a source of each of h[t+1], ..., h[t+k]: every one of them "
                    "carries gradient back", when=lambda x, Q, K, V, grad_h: Q.shape[0] > 2)
def bptt_one_step(x, Q, K, V, grad_h):
    k = Q.shape[0] - 1
    hs, steps = [], []
    for x_t in x:
        sources = _sources(x_t, hs, k)
        hs.append(_attend(sources, Q, K, V)[0])
        steps.append(sources)
    total = grad_h.clone()
    for t in reversed(range(x.shape[0] - 1)):
        total[t] += _dh_dsource(steps[t + 1], Q, K, V, 1).T @ total[t + 1]
    return total


# 1.3 Loss curves


@misconception("initial_loss", id="loss-log2", title="log base 2 instead of the natural log",
               hint="cross-entropy is measured in nats, with ln")
def initial_loss_log2(num_classes):
    return math.log2(num_classes)
