"""Bug: conv1d_forward computes a true convolution (the kernel flipped) instead of a cross-correlation.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


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
                    total = total + W[f, c, K - 1 - m] * x[c, t * stride + m]
            out[f, t] = total
    return out
