"""Correct gradients, but writes -0.0 over a 0.0 of x (a change only the bits show) and
changes arch."""

import numpy as np

import reference


def gradients(arch, params, x, y):
    grads = reference.gradients(arch, params, x, y)
    x[...] = np.where(x == 0, -0.0, x)
    object.__setattr__(
        arch, "loss", "squared_error" if arch.loss != "squared_error" else "cross_entropy"
    )
    return grads
