"""HW2 submission that is right but works in float32 throughout (it calls .float() on its inputs).

The rubric's tolerances are meant to accept this: the formulas are right, only the precision is lower.
"""

import math

import torch


def conv_output_size(L, K, S=1, P=0, D=1):
    return (L + 2 * P - (K - 1) * D - 1) // S + 1


def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    return (num_filters,) + tuple(
        conv_output_size(n, k, stride, padding, dilation) for n, k in zip(in_shape[1:], kernel_size)
    )


def conv1d_forward(x, W, stride=1):
    x, W = x.float(), W.float()
    F_, C, K = W.shape
    L_out = (x.shape[1] - K) // stride + 1
    out = torch.zeros(F_, L_out)
    for t in range(L_out):
        window = x[:, t * stride : t * stride + K]
        out[:, t] = (W * window).sum(dim=(1, 2))
    return out


def conv1d_jacobian_W(x, W, stride=1):
    x = x.float()
    K = W.shape[2]
    L_out = (x.shape[1] - K) // stride + 1
    return torch.stack([x[:, t * stride : t * stride + K] for t in range(L_out)]).unsqueeze(1)


def conv1d_jacobian_x(x, W, stride=1):
    W = W.float()
    C, L = x.shape
    K = W.shape[2]
    L_out = (L - K) // stride + 1
    J = torch.zeros(L_out, C, L)
    for t in range(L_out):
        J[t, :, t * stride : t * stride + K] = W[0]
    return J


def conv1d_grad_W(x, W, grad_out, stride=1):
    x, grad_out = x.float(), grad_out.float()
    K = W.shape[2]
    grad = torch.zeros(W.shape)
    for t in range(grad_out.shape[1]):
        window = x[:, t * stride : t * stride + K]
        grad += grad_out[:, t, None, None] * window[None]
    return grad


def gated_rnn_forward(x, W_c, W_h, W_x):
    x, W_c, W_h, W_x = x.float(), W_c.float(), W_h.float(), W_x.float()
    h = torch.zeros(W_h.shape[0])
    hs, cs = [], []
    for x_t in x:
        c = torch.sigmoid(W_c @ x_t + W_h @ h)
        h = c * h + (1 - c) * (W_x @ x_t)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


def gated_rnn_grad_Wx(x, c, grad_h):
    x, c, grad_h = x.float(), c.float(), grad_h.float()
    return ((1 - c) * grad_h).T @ x


def step(sources, Q, K, V):
    w = torch.stack([(Q[i] @ s) @ (K[i] @ s) for i, s in enumerate(sources)])
    a = torch.softmax(w, dim=0)
    v = torch.stack([V[i] @ s for i, s in enumerate(sources)])
    return a @ v, a, v


def past_sources(x_t, hs, k):
    return [x_t] + [hs[-i] if i <= len(hs) else torch.zeros_like(x_t) for i in range(1, k + 1)]


def attention_rnn_forward(x, Q, K, V):
    x, Q, K, V = x.float(), Q.float(), K.float(), V.float()
    k = Q.shape[0] - 1
    hs, As = [], []
    for x_t in x:
        h, a, _ = step(past_sources(x_t, hs, k), Q, K, V)
        hs.append(h)
        As.append(a)
    return torch.stack(hs), torch.stack(As)


def attention_rnn_inf_forward(x, Q, K, V):
    x, Q, K, V = x.float(), Q.float(), K.float(), V.float()
    hs = []
    for t, x_t in enumerate(x):
        sources = past_sources(x_t, hs, t + 1)
        hs.append(step(sources, [Q] * len(sources), [K] * len(sources), [V] * len(sources))[0])
    return torch.stack(hs)


def jacobian_wrt_source(sources, Q, K, V, i):
    h, a, v = step(sources, Q, K, V)
    g = (Q[i].T @ K[i] + K[i].T @ Q[i]) @ sources[i]
    return a[i] * (V[i] + torch.outer(v[i] - h, g))


def attention_rnn_dh_dhprev(x_t, h_prev, h_prev2, Q, K, V):
    sources = [x_t.float(), h_prev.float(), h_prev2.float()]
    return jacobian_wrt_source(sources, Q.float(), K.float(), V.float(), 1)


def attention_rnn_backward(x, Q, K, V, grad_h):
    x, Q, K, V, grad_h = x.float(), Q.float(), K.float(), V.float(), grad_h.float()
    k = Q.shape[0] - 1
    T = x.shape[0]
    hs, sources = [], []
    for x_t in x:
        sources.append(past_sources(x_t, hs, k))
        hs.append(step(sources[-1], Q, K, V)[0])
    total = grad_h.clone()
    for t in range(T - 1, -1, -1):
        for i in range(1, k + 1):
            if t + i < T:
                total[t] += jacobian_wrt_source(sources[t + i], Q, K, V, i).T @ total[t + i]
    return total


def initial_loss(num_classes):
    return math.log(num_classes)


def initial_accuracy(num_classes):
    return 1 / num_classes
