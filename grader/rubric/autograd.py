"""Reference gradients for rubric tests: seeded inputs, autograd Jacobians/VJPs, finite differences."""

from __future__ import annotations

from collections.abc import Callable

import torch


def randn(seed: int, *shape: int) -> torch.Tensor:
    """A reproducible float64 standard-normal tensor (the same on every machine for a seed)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def jacobian(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, wrt: int = 0) -> torch.Tensor:
    """d fn(*inputs) / d inputs[wrt], shaped output.shape + input.shape."""
    def of_one(x: torch.Tensor) -> torch.Tensor:
        args = list(inputs)
        args[wrt] = x
        return fn(*args)

    result: torch.Tensor = torch.autograd.functional.jacobian(of_one, inputs[wrt])
    return result


def vjp(
    fn: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...], grad_out: torch.Tensor, wrt: int = 0
) -> torch.Tensor:
    """dl/d inputs[wrt] for the loss l = sum(grad_out * fn(*inputs)) (a vector-Jacobian product)."""
    leaves = [x.detach().clone().requires_grad_(i == wrt) for i, x in enumerate(inputs)]
    out = fn(*leaves)
    (grad,) = torch.autograd.grad(out, leaves[wrt], grad_outputs=grad_out)
    return grad


def finite_difference_jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central differences d fn(x) / dx, shaped output.shape + x.shape; slow, for small x only."""
    flat = x.detach().clone().reshape(-1)
    columns = []
    for i in range(flat.numel()):
        step = torch.zeros_like(flat)
        step[i] = eps
        plus = fn((flat + step).reshape(x.shape))
        minus = fn((flat - step).reshape(x.shape))
        columns.append((plus - minus) / (2 * eps))
    return torch.stack(columns, dim=-1).reshape(*columns[0].shape, *x.shape)
