"""backprop-oracle's reference: backpropagation for a multi-layer perceptron, in NumPy.

It follows the article "Backpropagation simply explained" in its matrix form, examples as rows:

    symbol                      meaning                                   shape       code
    L                           number of layers (L = 1: no hidden layer)             arch.L
    n_0, ..., n_L               layer widths (n_0 inputs, n_L outputs)                arch.sizes
    n                           batch size                                            n
    x = h^0                     inputs                                    (n, n_0)    x, h[0]
    W^l                         weights of layer l                        (n_{l-1}, n_l)  W
    b^l                         biases of layer l, added to every row     (n_l,)      b
    z^l = h^{l-1} W^l + b^l     pre-activations                           (n, n_l)    z[l]
    h^l = phi_l(z^l)            outputs of layer l                        (n, n_l)    h[l]
    E = (1/n) sum_i L(h^L_i, y_i)  the error: batch MEAN of the loss      scalar      E
    delta^l = dE/dz^l           the error of the neurons of layer l       (n, n_l)    delta[l]

    delta^L = phi_L'(z^L) * dE/dh^L
    delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    dE/dW^l = (h^{l-1})^T delta^l,   dE/db^l = 1^T delta^l (column sums)
    gradient descent: Delta W^l = -alpha dE/dW^l,  Delta b^l = -alpha dE/db^l

In Python, layer l is params[l - 1]; the traces of a Backprop are keyed by l itself.
This package imports NumPy only (never torch): it is the gold standard the oracles check.

    >>> import numpy as np, reference
    >>> arch = reference.Architecture(sizes=(2, 3, 1), activations=("tanh", "identity"),
    ...                               loss="squared_error")
    >>> params = reference.init_params(arch, np.random.default_rng(0))
    >>> bp = reference.backprop(arch, params, np.ones((4, 2)), np.zeros((4, 1)))
    >>> bp.grad_W[1].shape, bp.delta[2].shape
    ((2, 3), (4, 1))
"""

from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss
from reference.network import (
    Architecture,
    Backprop,
    Forward,
    activate,
    backprop,
    bias_gradient,
    error,
    forward,
    gradients,
    hidden_delta,
    init_params,
    output_delta,
    pre_activation,
    weight_gradient,
)
from reference.training import Training, gradient_descent_step, train
from reference.types import Array, Layer, Params

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "Architecture",
    "Array",
    "Backprop",
    "Forward",
    "Layer",
    "Loss",
    "Params",
    "Training",
    "activate",
    "backprop",
    "bias_gradient",
    "error",
    "forward",
    "gradient_descent_step",
    "gradients",
    "hidden_delta",
    "init_params",
    "output_delta",
    "pre_activation",
    "train",
    "weight_gradient",
]
