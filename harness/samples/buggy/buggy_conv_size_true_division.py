"""Bug: conv_output_size divides by the stride with / instead of //, so sizes come out as floats.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv_output_size(L, K, S=1, P=0, D=1):
    return (L + 2 * P - D * (K - 1) - 1) / S + 1
