"""Bug: conv_output_size ignores the dilation D.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv_output_size(L, K, S=1, P=0, D=1):
    return math.floor((L + 2 * P - K) / S) + 1
