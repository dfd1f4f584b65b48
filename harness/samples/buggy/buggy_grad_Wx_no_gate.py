"""Bug: gated_rnn_grad_Wx leaves out the (1 - c[t]) gate.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def gated_rnn_grad_Wx(x, c, grad_h):
    return torch.einsum("tm,tn->mn", grad_h, x)
