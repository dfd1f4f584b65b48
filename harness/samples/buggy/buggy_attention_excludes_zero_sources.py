"""Bug: AttentionRNN leaves the zero sources h[s < 1] out of the softmax (weight 0 instead of score 0).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def run_attention_rnn(x, Q, K, V):
    """h[1..T] as a list of graph nodes, plus the attention weights."""
    k = Q.shape[0] - 1
    zero = torch.zeros_like(x[0])
    hs, weights = [], []
    for t in range(x.shape[0]):
        sources = [x[t]] + [hs[t - i] for i in range(1, k + 1) if t - i >= 0]
        h, a = attention(sources, Q, K, V)
        hs.append(h)
        weights.append(torch.cat([a, a.new_zeros(k + 1 - len(a))]))
    return hs, weights


def attention_rnn_inf_forward(x, Q, K, V):
    hs = []
    for t in range(x.shape[0]):
        sources = [x[t]] + hs[::-1]
        m = len(sources)
        hs.append(attention(sources, [Q] * m, [K] * m, [V] * m)[0])
    return torch.stack(hs)
