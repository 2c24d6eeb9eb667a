"""Broken variants of a correct backprop, one per kind of failure the gate reports."""

import os
import time

import numpy as np

import reference


def transposed(arch, params, x, y):
    """dE/dW^l returned transposed: a wrong shape."""
    return [(dW.T, db) for dW, db in reference.gradients(arch, params, x, y)]


def updates_in_place(arch, params, x, y):
    """Takes a gradient-descent step on the caller's arrays."""
    grads = reference.gradients(arch, params, x, y)
    for (W, b), (dW, db) in zip(params, grads, strict=True):
        W -= 0.1 * dW
        b -= 0.1 * db
    return grads


_total = None


def accumulates(arch, params, x, y):
    """Adds each call's gradients to a running total, as an optimizer's buffer would."""
    global _total
    grads = reference.gradients(arch, params, x, y)
    if _total is None or [dW.shape for dW, _ in _total] != [dW.shape for dW, _ in grads]:
        _total = [(np.zeros_like(dW), np.zeros_like(db)) for dW, db in grads]  # a new network
    _total = [(tW + dW, tb + db) for (tW, tb), (dW, db) in zip(_total, grads, strict=True)]
    return _total


def exits(arch, params, x, y):
    """Ends its own process."""
    os._exit(0)


def sleeps(arch, params, x, y):
    """Never answers."""
    time.sleep(3600)
