"""Bug: conv1d_jacobian_x returns its first two axes swapped, (C, L_out, L).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv1d_jacobian_x(x, W, stride=1):
    C, L = x.shape
    K = W.shape[2]
    J = x.new_zeros(C, conv_output_size(L, K, stride), L)
    for t in range(J.shape[1]):
        J[:, t, t * stride:t * stride + K] = W[0]
    return J
