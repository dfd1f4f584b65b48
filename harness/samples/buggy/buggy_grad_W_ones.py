"""Bug: conv1d_grad_W sums the input windows as if grad_out were all ones.

A patch: appended to the correct file named as its `base` in expected.toml.
"""


def conv1d_grad_W(x, W, grad_out, stride=1):
    return torch.einsum("ft,ctk->fck", torch.ones_like(grad_out), x.unfold(1, W.shape[-1], stride))
