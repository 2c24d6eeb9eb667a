"""What the finite-difference oracles read of their arguments: the choice of what to perturb
(PERTURB) and its check, and float64 copies of params, x and y."""

import numpy as np

from reference.types import Params

PERTURB = ("parameters", "units")
"""What central_differences and complex_step perturb, one at a time:

parameters: each W^l_ij and b^l_j (the definition; cost ~ P n n_{l+1} phi per evaluation);
units:      each pre-activation z^l_ij, then dE/dW^l = (h^{l-1})^T delta^l exactly (cost ~
            n n_l n_{l+1} per layer: far cheaper for large networks; the same numbers for the
            complex step, and an estimate of the same accuracy for central differences)."""


def _check_perturb(perturb: str) -> None:
    if perturb not in PERTURB:
        raise ValueError(f"perturb={perturb!r}, but should be one of: {', '.join(PERTURB)}")


def _as_arrays(arch, params, x, y) -> tuple[Params, np.ndarray, np.ndarray]:
    """float64 copies where needed (never the caller's arrays modified), y as the loss wants."""
    params = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in params]
    y = np.asarray(y)
    if arch.loss != "cross_entropy":
        y = y.astype(np.float64)
    return params, np.asarray(x, dtype=np.float64), y
