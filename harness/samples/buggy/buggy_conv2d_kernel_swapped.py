"""Bug: conv2d_output_shape slides the kernel's height along the width and its width along the height.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
    C, H, W = in_shape
    if isinstance(kernel_size, int):
        kw, kh = kernel_size, kernel_size
    else:
        kw, kh = kernel_size
    H_out = conv_output_size(H, kh, stride, padding, dilation)
    W_out = conv_output_size(W, kw, stride, padding, dilation)
    return (num_filters, H_out, W_out)
