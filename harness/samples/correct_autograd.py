"""HW2 submission that lets torch.autograd do every derivative."""

import math

import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian, vjp


def conv_output_size(L, K, S=1, P=0, D=1):
    effective_kernel = (K - 1) * D + 1
    return int(math.floor((L + 2 * P - effective_kernel) / S)) + 1


def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    # What the layer makes of an input of that shape: a torch.Size, a tuple subclass
    conv = torch.nn.Conv2d(in_shape[0], num_filters, kernel_size, stride=stride, padding=padding, dilation=dilation)
    return conv(torch.zeros(1, *in_shape)).shape[1:]


def conv1d_forward(x, W, stride=1):
    return F.conv1d(x.unsqueeze(0), W, stride=stride).squeeze(0)


def conv1d_jacobian_W(x, W, stride=1):
    return jacobian(lambda w: conv1d_forward(x, w, stride)[0], W)


def conv1d_jacobian_x(x, W, stride=1):
    return jacobian(lambda inp: conv1d_forward(inp, W, stride)[0], x)


def conv1d_grad_W(x, W, grad_out, stride=1):
    _, grad = vjp(lambda w: conv1d_forward(x, w, stride), W, grad_out)
    return grad


def gated_rnn_forward(x, W_c, W_h, W_x):
    h_prev = torch.zeros(W_h.shape[0], dtype=x.dtype, device=x.device)
    hs, cs = [], []
    for x_t in x:
        c_t = torch.sigmoid(W_c @ x_t + W_h @ h_prev)
        h_prev = c_t * h_prev + (1 - c_t) * (W_x @ x_t)
        hs.append(h_prev)
        cs.append(c_t)
    return torch.stack(hs), torch.stack(cs)


def gated_rnn_grad_Wx(x, c, grad_h):
    # With h[t-1] held fixed, h[t] depends on W_x only through (1 - c[t]) * (W_x x[t]).
    W_x = torch.zeros(c.shape[1], x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
    local = (1 - c) * (x @ W_x.T)
    (local * grad_h).sum().backward()
    return W_x.grad


def attention(sources, Q, K, V):
    scores = torch.stack([(Q[i] @ s) @ (K[i] @ s) for i, s in enumerate(sources)])
    a = torch.softmax(scores, dim=0)
    h = torch.stack([a[i] * (V[i] @ s) for i, s in enumerate(sources)]).sum(0)
    return h, a


def run_attention_rnn(x, Q, K, V):
    """h[1..T] as a list of graph nodes, plus the attention weights."""
    k = Q.shape[0] - 1
    zero = torch.zeros_like(x[0])
    hs, weights = [], []
    for t in range(x.shape[0]):
        sources = [x[t]] + [hs[t - i] if t - i >= 0 else zero for i in range(1, k + 1)]
        h, a = attention(sources, Q, K, V)
        hs.append(h)
        weights.append(a)
    return hs, weights


def attention_rnn_forward(x, Q, K, V):
    hs, weights = run_attention_rnn(x, Q, K, V)
    return torch.stack(hs).detach(), torch.stack(weights).detach()


def attention_rnn_inf_forward(x, Q, K, V):
    hs = []
    for t in range(x.shape[0]):
        sources = [x[t]] + hs[::-1] + [torch.zeros_like(x[t])]
        m = len(sources)
        hs.append(attention(sources, [Q] * m, [K] * m, [V] * m)[0])
    return torch.stack(hs)


def attention_rnn_dh_dhprev(x_t, h_prev, h_prev2, Q, K, V):
    return jacobian(lambda h: attention([x_t, h, h_prev2], Q, K, V)[0], h_prev)


def attention_rnn_backward(x, Q, K, V, grad_h):
    with torch.enable_grad():
        hs, _ = run_attention_rnn(x.detach().requires_grad_(True), Q, K, V)
        for h in hs:
            h.retain_grad()
        loss = (torch.stack(hs) * grad_h).sum()
        loss.backward()
    return torch.stack([h.grad for h in hs])


def initial_loss(num_classes):
    uniform = torch.full((1, num_classes), 1.0, dtype=torch.float64)
    return F.cross_entropy(uniform, torch.tensor([0])).item()


def initial_accuracy(num_classes):
    return 1 / num_classes
