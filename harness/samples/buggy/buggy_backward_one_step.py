"""Bug: attention_rnn_backward only follows the 1-step connection h[t] -> h[t+1].

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def attention_rnn_backward(x, Q, K, V, grad_h):
    k = Q.shape[0] - 1
    h, _ = attention_rnn_forward(x, Q, K, V)
    total = grad_h.clone()
    for t in range(x.shape[0] - 2, -1, -1):
        u = t + 1
        sources = [x[u]] + [h[u - j] if u - j >= 0 else torch.zeros_like(x[u]) for j in range(1, k + 1)]
        total[t] = total[t] + source_jacobian(sources, Q, K, V, 1).T @ total[u]
    return total
