"""Bug: conv1d_grad_W assigns each position's term instead of adding it (= for +=): only the last t is left.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv1d_grad_W(x, W, grad_out, stride=1):
    F, C, K = W.shape
    L_out = grad_out.shape[1]
    grad = torch.zeros(F, C, K, dtype=x.dtype, device=x.device)
    for f in range(F):
        for c in range(C):
            for m in range(K):
                for t in range(L_out):
                    grad[f, c, m] = grad_out[f, t] * x[c, t * stride + m]
    return grad
