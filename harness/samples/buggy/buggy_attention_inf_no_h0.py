"""Bug: attention_rnn_inf_forward leaves h[0] = 0 out of the sources of each step.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def attention_rnn_inf_forward(x, Q, K, V):
    T, n = x.shape
    h = torch.zeros(T, n, dtype=x.dtype, device=x.device)
    for t in range(T):
        sources = [x[t]]
        for s in range(t - 1, -1, -1):
            sources.append(h[s])
        count = len(sources)
        h[t], _ = attention_step(sources, [Q] * count, [K] * count, [V] * count)
    return h
