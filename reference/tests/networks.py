"""Random networks for the reference's tests: an architecture, parameters, inputs, targets.

Every draw comes from the numpy.random.Generator the test passes, so a failing case is
reproduced by its seed. Biases are drawn too (init_params sets them to 0, which would hide a
bias that is added twice or not at all).
"""

from dataclasses import dataclass

import numpy as np

import reference

ACTIVATION_NAMES = tuple(reference.ACTIVATIONS)
LOSS_NAMES = tuple(reference.LOSSES)


@dataclass(frozen=True)
class Case:
    arch: reference.Architecture
    params: reference.Params
    x: np.ndarray
    y: np.ndarray


def targets(rng: np.random.Generator, loss: str, n: int, n_L: int, dtype=np.float64) -> np.ndarray:
    """Valid targets for `loss` (docs/contract.md, section 3): (n, n_L) floats or (n,) integer
    labels."""
    if loss == "cross_entropy":
        return rng.integers(0, n_L, size=n)
    if loss == "binary_cross_entropy":
        return rng.uniform(0, 1, size=(n, n_L)).astype(dtype)
    return rng.standard_normal((n, n_L)).astype(dtype)


def random_case(
    rng: np.random.Generator,
    *,
    sizes: tuple[int, ...],
    activations: tuple[str, ...] | None = None,
    loss: str = "squared_error",
    n: int = 5,
    dtype: type = np.float64,
) -> Case:
    """A network of these sizes with random parameters and biases, a batch of n rows, targets.

    activations None: one drawn at random per layer.
    """
    L = len(sizes) - 1
    if activations is None:
        activations = tuple(str(a) for a in rng.choice(ACTIVATION_NAMES, size=L))
    arch = reference.Architecture(sizes=sizes, activations=activations, loss=loss)
    params = [
        (W, (rng.standard_normal(b.shape) / 2).astype(dtype))
        for W, b in reference.init_params(arch, rng, dtype=dtype)
    ]
    x = rng.standard_normal((n, sizes[0])).astype(dtype)
    return Case(arch, params, x, targets(rng, loss, n, sizes[-1], dtype))
