"""Bug: attention_rnn_backward returns the direct gradients only, with nothing carried back through time.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def attention_rnn_backward(x, Q, K, V, grad_h):
    return grad_h.clone()
