"""Bug: initial_loss uses log base 2.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def initial_loss(num_classes):
    return float(np.log2(num_classes))
