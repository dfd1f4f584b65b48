"""Bug: gated_rnn_grad_Wx gates the gradient with c[t] instead of (1 - c[t]).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def gated_rnn_grad_Wx(x, c, grad_h):
    T, n = x.shape
    m = c.shape[1]
    grad = torch.zeros(m, n, dtype=x.dtype, device=x.device)
    for t in range(T):
        grad += torch.outer(grad_h[t] * c[t], x[t])
    return grad
