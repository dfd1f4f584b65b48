"""Bug: conv1d_forward ignores the stride; the Jacobians and dl/dW are autograd through it.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv1d_forward(x, W, stride=1):
    return F.conv1d(x.unsqueeze(0), W).squeeze(0)
