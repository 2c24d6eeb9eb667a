"""Gradient descent with the seed's update rule: Delta W^l = -alpha dE/dW^l, Delta b^l likewise."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reference.network import Architecture, error, gradients
from reference.types import Array, Params
from reference.validation import check_inputs


def gradient_descent_step(params: Sequence, grads: Sequence, alpha: float) -> Params:
    """W^l + Delta W^l = W^l - alpha dE/dW^l and b^l - alpha dE/db^l, as new arrays.

    `params` and `grads` are lists of (W, b) and (dE/dW, dE/db) in layer order; neither is
    modified.
    """
    if len(params) != len(grads):
        raise ValueError(f"grads has {len(grads)} layers, but params has {len(params)}")
    new = []
    for l, ((W, b), (grad_W, grad_b)) in enumerate(zip(params, grads, strict=True), start=1):
        for symbol, p, g in (("W", W, grad_W), ("b", b, grad_b)):
            if np.shape(p) != np.shape(g):
                raise ValueError(
                    f"layer {l}: dE/d{symbol} has shape {np.shape(g)}, but should be "
                    f"{np.shape(p)}, the shape of {symbol}"
                )
        new.append((W - alpha * grad_W, b - alpha * grad_b))
    return new


@dataclass(frozen=True)
class Training:
    """The parameters after training, and E on the whole data set after each epoch."""

    params: Params
    E: tuple[float, ...]


def train(
    arch: Architecture,
    params: Sequence,
    x: Array,
    y: np.ndarray,
    *,
    alpha: float,
    epochs: int,
    batch_size: int | None = None,
    rng: np.random.Generator | None = None,
) -> Training:
    """Gradient descent for `epochs` passes over (x, y).

    batch_size None: one full-batch step per epoch. Otherwise each epoch shuffles the rows with
    `rng` (required then; no global random state) and takes one step per minibatch of
    batch_size rows (the last may be smaller).
    """
    if epochs < 0:
        raise ValueError(f"epochs = {epochs}, but should be >= 0")
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}, but should be >= 1")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                "minibatches need rng, a numpy.random.Generator such as "
                "numpy.random.default_rng(seed), to shuffle the rows"
            )
    params, x, y = check_inputs(arch.sizes, arch.loss, params, x, y)
    history = []
    for _ in range(epochs):
        if batch_size is None:
            batches = [np.arange(len(x))]
        else:
            order = rng.permutation(len(x))
            batches = [order[i : i + batch_size] for i in range(0, len(x), batch_size)]
        for rows in batches:
            params = gradient_descent_step(params, gradients(arch, params, x[rows], y[rows]), alpha)
        history.append(float(error(arch, params, x, y).real))
    return Training(params, tuple(history))
