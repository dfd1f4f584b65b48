"""HW2 submission written with explicit Python loops, index by index as in the formulas."""

import math

import torch


def conv_output_size(L, K, S=1, P=0, D=1):
    return math.floor((L + 2 * P - ((K - 1) * D + 1)) / S) + 1


def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    C, H, W = in_shape
    if isinstance(kernel_size, int):
        kh, kw = kernel_size, kernel_size
    else:
        kh, kw = kernel_size
    H_out = conv_output_size(H, kh, stride, padding, dilation)
    W_out = conv_output_size(W, kw, stride, padding, dilation)
    return (num_filters, H_out, W_out)


def conv1d_forward(x, W, stride=1):
    C, L = x.shape
    F, _, K = W.shape
    L_out = conv_output_size(L, K, stride)
    out = torch.zeros(F, L_out, dtype=x.dtype, device=x.device)
    for f in range(F):
        for t in range(L_out):
            total = 0.0
            for c in range(C):
                for m in range(K):
                    total = total + W[f, c, m] * x[c, t * stride + m]
            out[f, t] = total
    return out


def conv1d_jacobian_W(x, W, stride=1):
    C, L = x.shape
    K = W.shape[2]
    L_out = conv_output_size(L, K, stride)
    J = torch.zeros(L_out, 1, C, K, dtype=x.dtype, device=x.device)
    for t in range(L_out):
        for c in range(C):
            for m in range(K):
                J[t, 0, c, m] = x[c, t * stride + m]
    return J


def conv1d_jacobian_x(x, W, stride=1):
    C, L = x.shape
    K = W.shape[2]
    L_out = conv_output_size(L, K, stride)
    J = torch.zeros(L_out, C, L, dtype=x.dtype, device=x.device)
    for t in range(L_out):
        for c in range(C):
            for m in range(K):
                J[t, c, t * stride + m] = W[0, c, m]
    return J


def conv1d_grad_W(x, W, grad_out, stride=1):
    F, C, K = W.shape
    L_out = grad_out.shape[1]
    grad = torch.zeros(F, C, K, dtype=x.dtype, device=x.device)
    for f in range(F):
        for c in range(C):
            for m in range(K):
                for t in range(L_out):
                    grad[f, c, m] += grad_out[f, t] * x[c, t * stride + m]
    return grad


def gated_rnn_forward(x, W_c, W_h, W_x):
    T = x.shape[0]
    m = W_h.shape[0]
    h = torch.zeros(T, m, dtype=x.dtype, device=x.device)
    c = torch.zeros(T, m, dtype=x.dtype, device=x.device)
    h_prev = torch.zeros(m, dtype=x.dtype, device=x.device)
    for t in range(T):
        c[t] = torch.sigmoid(W_c @ x[t] + W_h @ h_prev)
        h[t] = c[t] * h_prev + (1 - c[t]) * (W_x @ x[t])
        h_prev = h[t]
    return h, c


def gated_rnn_grad_Wx(x, c, grad_h):
    T, n = x.shape
    m = c.shape[1]
    grad = torch.zeros(m, n, dtype=x.dtype, device=x.device)
    for t in range(T):
        grad += torch.outer(grad_h[t] * (1 - c[t]), x[t])
    return grad


def softmax(w):
    e = [math.exp(v - max(w)) for v in w]
    return [v / sum(e) for v in e]


def attention_step(sources, Qs, Ks, Vs):
    scores = [float(torch.dot(Qs[i] @ s, Ks[i] @ s)) for i, s in enumerate(sources)]
    a = softmax(scores)
    h = torch.zeros_like(sources[0])
    for i, s in enumerate(sources):
        h = h + a[i] * (Vs[i] @ s)
    return h, a


def attention_rnn_forward(x, Q, K, V):
    T, n = x.shape
    k = Q.shape[0] - 1
    h = torch.zeros(T, n, dtype=x.dtype, device=x.device)
    a = torch.zeros(T, k + 1, dtype=x.dtype, device=x.device)
    for t in range(T):
        sources = [x[t]]
        for i in range(1, k + 1):
            sources.append(h[t - i] if t - i >= 0 else torch.zeros_like(x[t]))
        h[t], weights = attention_step(sources, Q, K, V)
        for i in range(k + 1):
            a[t, i] = weights[i]
    return h, a


def attention_rnn_inf_forward(x, Q, K, V):
    T, n = x.shape
    h = torch.zeros(T, n, dtype=x.dtype, device=x.device)
    for t in range(T):
        sources = [x[t]]
        for s in range(t - 1, -1, -1):
            sources.append(h[s])
        sources.append(torch.zeros_like(x[t]))  # h[0]
        count = len(sources)
        h[t], _ = attention_step(sources, [Q] * count, [K] * count, [V] * count)
    return h


def source_jacobian(sources, Q, K, V, i):
    """dh/ds_i = a_i V_i + sum_j v_j da_j/ds_i with da_j/ds_i = a_j (delta_ij - a_i) dw_i/ds_i."""
    h, a = attention_step(sources, Q, K, V)
    s = sources[i]
    dw = (Q[i].T @ K[i] + K[i].T @ Q[i]) @ s
    J = a[i] * V[i]
    for j in range(len(sources)):
        v_j = V[j] @ sources[j]
        delta = 1.0 if i == j else 0.0
        J = J + a[j] * (delta - a[i]) * torch.outer(v_j, dw)
    return J


def attention_rnn_dh_dhprev(x_t, h_prev, h_prev2, Q, K, V):
    return source_jacobian([x_t, h_prev, h_prev2], Q, K, V, 1)


def attention_rnn_backward(x, Q, K, V, grad_h):
    T, n = x.shape
    k = Q.shape[0] - 1
    h, _ = attention_rnn_forward(x, Q, K, V)
    total = grad_h.clone()
    for t in range(T - 1, -1, -1):
        for i in range(1, k + 1):
            if t + i < T:
                u = t + i
                sources = [x[u]]
                for j in range(1, k + 1):
                    sources.append(h[u - j] if u - j >= 0 else torch.zeros_like(x[u]))
                J = source_jacobian(sources, Q, K, V, i)
                total[t] = total[t] + J.T @ total[u]
    return total


def initial_loss(num_classes):
    return -math.log(1 / num_classes)


def initial_accuracy(num_classes):
    return 1 / num_classes
