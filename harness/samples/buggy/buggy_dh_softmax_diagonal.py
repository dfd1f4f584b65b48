"""Bug: attention_rnn_dh_dhprev keeps only the diagonal of the softmax's Jacobian, da_1/dw_1 = a_1 (1 - a_1).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def attention_rnn_dh_dhprev(x_t, h_prev, h_prev2, Q, K, V):
    sources = [x_t, h_prev, h_prev2]
    _, a = attention(sources, Q, K, V)
    dw = (Q[1].T @ K[1] + K[1].T @ Q[1]) @ h_prev
    return a[1] * V[1] + a[1] * (1 - a[1]) * torch.outer(V[1] @ h_prev, dw)
