"""Bug: the AttentionRNN Jacobians drop the softmax term (d h / d s_i = a_i V_i only).

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def jacobian_wrt_source(sources, Q, K, V, i):
    h, a, v = step(sources, Q, K, V)
    g = (Q[i].T @ K[i] + K[i].T @ Q[i]) @ sources[i]
    return a[i] * V[i]
