"""Bug: gated_rnn_grad_Wx assigns each step's term instead of adding it (= for +=): only the last t is left.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def gated_rnn_grad_Wx(x, c, grad_h):
    T, n = x.shape
    m = c.shape[1]
    grad = torch.zeros(m, n, dtype=x.dtype, device=x.device)
    for t in range(T):
        grad = torch.outer(grad_h[t] * (1 - c[t]), x[t])
    return grad
