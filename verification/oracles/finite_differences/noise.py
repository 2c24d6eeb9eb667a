"""The rounding of one evaluation of E, for the error estimate of central differences
(_rounding_noise: N^l and G^l of each layer, through the magnitudes of every layer a
perturbation passes), and the slope of the loss it weighs errors in h^L with (also the complex
step's bound: _loss_sensitivity)."""

import numpy as np

from reference.activations import ACTIVATIONS
from reference.types import Params
from verification.oracles.finite_differences.constants import _SMALLEST, EPS, ROUNDING_ULPS
from verification.oracles.finite_differences.forward import _Trace
from verification.oracles.precision import FLOAT64, ULP_IN_U
from verification.oracles.rounding import ROUNDING


def _loss_slope(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """A bound on |d L_i / d h^L_ik|: |h - y| for squared_error, 1 for the cross-entropies
    (|softmax - onehot|, |sigma - y|). Shape (n, n_L)."""
    h_L = trace.h[len(arch.sizes) - 1]
    if arch.loss == "squared_error":
        return np.abs(h_L - y)
    return np.ones_like(h_L)


def _loss_sensitivity(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """_loss_slope plus 1 for the loss's own rounding, to weigh errors in h^L as errors in the
    loss (the complex step's bound). Shape (n, n_L)."""
    return _loss_slope(arch, trace, y) + 1


def _rounding_noise(
    arch, params: Params, trace: _Trace, y: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{l: (N^l, G^l)}, each (n, n_l), for perturbations of layer l, in units of the row loss L_i.

    G^l_ij >= |dL_i/dz^l_ij| through absolute values: G^m = |phi_m'(z^m)| A^m, with
    A^L = |dL_i/dh^L| (_loss_slope) and A^{m-1} = G^m |W^m|^T.
    N^l_ij bounds the rounding of one evaluation of L_i when unit (i, j) of z^l moves, and with
    it row i of every layer above. What the evaluations share cancels in their differences; what
    they round anew is: each sum z^m + Delta z^m, once (u |z^m|, weighed by G^m); each phi(z^m),
    within Rounding.reference_ulps ULPs (2u each) of |h^m| where its formula is not exact,
    weighed by A^m; and the loss (by its textbook formulas, Loss.textbook_per_example), within
    ROUNDING_ULPS eps of its terms. The magnitudes are what matters: where h^{m-1} W^m and b^m
    cancel to a small z^m, or a huge h^m feeds a small loss, the rounding of the large
    quantities far exceeds that of E itself.
    """
    L = len(arch.sizes) - 1
    u = FLOAT64.u
    A = _loss_slope(arch, trace, y)  # (n, n_L)
    h_L = trace.h[L]
    above = ROUNDING_ULPS * EPS * (np.abs(trace.losses) + (np.abs(h_L) * A).sum(-1) + 1)
    noise = {}
    for m in range(L, 0, -1):
        name = arch.activations[m - 1]
        z = trace.z[m]
        G = np.abs(ACTIVATIONS[name].dphi(z)) * A
        rounded = ROUNDING[name].value_terms(z) > 0  # 0: phi is exact there (relu, identity)
        ulps = np.where(rounded, ROUNDING[name].reference_ulps(z), 0.0)
        own = u * np.abs(z) * G + (ULP_IN_U * u * ulps * np.abs(trace.h[m]) + _SMALLEST) * A
        noise[m] = (own + above[:, None], G)
        above = above + own.sum(-1)
        W, _ = params[m - 1]  # layer m is params[m - 1]
        A = G @ np.abs(W).T
    return noise
