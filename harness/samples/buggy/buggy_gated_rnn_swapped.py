"""Bug: the gated RNN update uses h[t] = (1 - c) h[t-1] + c W_x x[t] (gate swapped).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def gated_rnn_forward(x, W_c, W_h, W_x):
    h = x.new_zeros(x.shape[0], W_h.shape[0])
    c = torch.zeros_like(h)
    for t in range(x.shape[0]):
        h_prev = h[t - 1] if t else torch.zeros_like(h[0])
        c[t] = torch.sigmoid(W_c @ x[t] + W_h @ h_prev)
        h[t] = (1 - c[t]) * h_prev + c[t] * (W_x @ x[t])
    return h, c
