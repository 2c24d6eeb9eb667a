"""A user's linear layer and tanh as torch.autograd.Functions with their own backward, in the
seed's layout (W is (n_in, n_out), z = h W + b), assembled by the torch adapter.

    python -m verification --impl verification/tests/adapter_users/torch_functions.py:gradients

`gradients` is correct. Each other adapter plants one bug in a backward:

    tanh_forgets_square       tanh'(z) = 1 - tanh(z), not 1 - tanh(z)^2
    linear_forgets_transpose  dE/dh^{l-1} = delta^l W^l, not delta^l (W^l)^T
    bias_averaged             dE/db^l = the mean of delta^l over the batch, not its sum
    bias_not_summed           dE/db^l = delta^l itself, (n, n_l): torch's engine sums a
                              gradient to its input's shape, so this one is not a bug in torch
"""

import torch

from verification.adapters.torch import gradients_of


class Linear(torch.autograd.Function):
    """z = h W + b; h (n, n_in), W (n_in, n_out), b (n_out,) -> z (n, n_out)."""

    @staticmethod
    def forward(ctx, h, W, b):
        ctx.save_for_backward(h, W)
        return h @ W + b

    @staticmethod
    def backward(ctx, delta):
        """dE/dh = delta W^T, dE/dW = h^T delta, dE/db = 1^T delta (column sums)."""
        h, W = ctx.saved_tensors
        return delta @ W.T, h.T @ delta, delta.sum(dim=0)


class Tanh(torch.autograd.Function):
    """h = tanh(z), with tanh'(z) = 1 - tanh(z)^2 from the saved output."""

    @staticmethod
    def forward(ctx, z):
        h = torch.tanh(z)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        (h,) = ctx.saved_tensors
        return grad_h * (1 - h**2)


class TanhForgetsSquare(Tanh):
    @staticmethod
    def backward(ctx, grad_h):
        (h,) = ctx.saved_tensors
        return grad_h * (1 - h)  # planted: the square is missing


class LinearForgetsTranspose(Linear):
    @staticmethod
    def backward(ctx, delta):
        h, W = ctx.saved_tensors
        return delta @ W, h.T @ delta, delta.sum(dim=0)  # planted: W, not W.T


class BiasAveraged(Linear):
    @staticmethod
    def backward(ctx, delta):
        h, W = ctx.saved_tensors
        return delta @ W.T, h.T @ delta, delta.mean(dim=0)  # planted: mean, not sum


class BiasNotSummed(Linear):
    @staticmethod
    def backward(ctx, delta):
        h, W = ctx.saved_tensors
        return delta @ W.T, h.T @ delta, delta  # (n, n_out): torch sums it to (n_out,)


gradients = gradients_of(linear=Linear.apply, activations={"tanh": Tanh.apply})
tanh_forgets_square = gradients_of(linear=Linear, activations={"tanh": TanhForgetsSquare})
linear_forgets_transpose = gradients_of(linear=LinearForgetsTranspose, activations={"tanh": Tanh})
bias_averaged = gradients_of(linear=BiasAveraged, activations={"tanh": Tanh})
bias_not_summed = gradients_of(linear=BiasNotSummed, activations={"tanh": Tanh})
