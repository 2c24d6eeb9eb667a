"""A user's linear layer as an nn.Module in nn.Linear's layout (weight (n_out, n_in) = W^T),
whose forward calls a Function with its own backward, and a tanh module (by the tanh Function
of torch_functions.py); assembled by the torch adapter.

    python -m verification --impl verification/tests/adapter_users/torch_modules.py:gradients

`gradients` is correct; `weight_gradient_transposed` plants a bug: its backward gives
dE/dweight = h^T delta, (n_in, n_out), where the weight is (n_out, n_in).
"""

import math

import torch
from torch import nn

from verification.adapters.torch import gradients_of
from verification.tests.adapter_users.torch_functions import Tanh


class LinearFunction(torch.autograd.Function):
    """z = h weight^T + bias; h (n, n_in), weight (n_out, n_in), bias (n_out,) -> (n, n_out)."""

    @staticmethod
    def forward(ctx, h, weight, bias):
        ctx.save_for_backward(h, weight)
        return h @ weight.T + bias

    @staticmethod
    def backward(ctx, delta):
        """dE/dh = delta weight, dE/dweight = delta^T h, dE/dbias = 1^T delta."""
        h, weight = ctx.saved_tensors
        return delta @ weight, delta.T @ h, delta.sum(dim=0)


class WeightGradientTransposed(LinearFunction):
    @staticmethod
    def backward(ctx, delta):
        h, weight = ctx.saved_tensors
        return delta @ weight, h.T @ delta, delta.sum(dim=0)  # planted: h^T delta


class MyLinear(nn.Module):
    """A linear layer like nn.Linear(n_in, n_out), with its own backward."""

    function = LinearFunction

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.function.apply(h, self.weight, self.bias)


class MyLinearTransposed(MyLinear):
    function = WeightGradientTransposed


class MyTanh(nn.Module):
    """tanh as a module, by the Function of torch_functions.py with its own backward."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return Tanh.apply(z)


gradients = gradients_of(layer=MyLinear, activations={"tanh": MyTanh})
weight_gradient_transposed = gradients_of(layer=MyLinearTransposed, activations={"tanh": MyTanh})
