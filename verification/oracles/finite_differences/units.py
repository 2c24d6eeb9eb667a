"""The estimators of one layer that perturb each unit z^l_ij (perturb="units"): central
differences and the complex step of each row's loss in its own unit give delta^l, and
_from_units maps it to every parameter exactly, dE/dW^l = (h^{l-1})^T delta^l."""

import numpy as np

from reference.losses import LOSSES
from verification.oracles.finite_differences.constants import (
    _SUBNORMAL,
    COMPLEX_STEP,
    COMPLEX_STEP_ULPS,
    EPS,
    ROUNDING_ULPS,
    STEP_ROUNDS,
)
from verification.oracles.finite_differences.noise import _loss_sensitivity
from verification.oracles.finite_differences.perturbed import (
    _chunk_size,
    _complex_step_outputs,
    _real_step_outputs,
)
from verification.oracles.finite_differences.steps import (
    _RICHARDSON_STEPS,
    _power_of_two_steps,
    _richardson,
    _untrusted,
    _within_reach,
)
from verification.oracles.precision import FLOAT64, gamma


def _from_units(
    h_prev: np.ndarray,
    delta: np.ndarray,
    error: np.ndarray,
    skipped: np.ndarray,
    untrusted: np.ndarray,
    step: np.ndarray,
):
    """Every parameter of layer l from estimates of delta^l = dE/dz^l, flattened (P_l,).

        dE/dW^l = (h^{l-1})^T delta^l,   dE/db^l = 1^T delta^l   (exact: z^l is linear in W, b)
        error:  |h^{l-1}|^T error(delta^l) + the sum's own rounding, eps |h^{l-1}|^T |delta^l|
        skipped: W^l_ij where a unit (i', j) with h^{l-1}_i'i != 0 is skipped; b^l_j where any is
        (untrusted likewise, where not skipped); step: the largest step of the units it sums.
    Shapes: h_prev (n, n_{l-1}); delta, error, skipped, untrusted, step (n, n_l) -> five (P_l,).
    """
    h_abs = np.abs(h_prev)
    grad_W, grad_b = h_prev.T @ delta, delta.sum(0)
    error_W = h_abs.T @ (error + ROUNDING_ULPS * EPS * np.abs(delta))
    error_b = (error + ROUNDING_ULPS * EPS * np.abs(delta)).sum(0)
    feeds = (h_prev != 0).T.astype(float)  # (n_{l-1}, n): row i' feeds W^l_i.

    def any_fed(mask: np.ndarray) -> np.ndarray:
        return np.concatenate([((feeds @ mask.astype(float)) > 0).ravel(), mask.any(0)])

    skipped_flat = any_fed(skipped)
    step_W = np.broadcast_to(step.max(0), grad_W.shape)
    return (
        np.concatenate([grad_W.ravel(), grad_b]),
        np.concatenate([error_W.ravel(), error_b]),
        skipped_flat,
        any_fed(untrusted) & ~skipped_flat,
        np.concatenate([step_W.ravel(), step.max(0)]),
    )


def _central_units_layer(arch, params, trace, y, l, step_scale, controlled, rounding_noise):
    """Layer l from central differences of each L_i in its own z^l_ij, then _from_units.

    Rows are independent: moving column j of z^l by t_ij in every row i at once gives, in row
    i's loss, the derivative dL_i/dz^l_ij = n delta^l_ij. The first step t_ij is step_scale
    times max(|z^l_ij|, 1), a power of two; controlled, it is shrunk row by row until within
    reach (_within_reach), as for parameters.
    """
    n, L = trace.h[0].shape[0], len(arch.sizes) - 1
    loss = LOSSES[arch.loss]
    t = _power_of_two_steps(step_scale, np.maximum(np.abs(trace.z[l].T), 1.0))  # (n_l, n)
    noise, G = rounding_noise  # _rounding_noise of layer l, (n, n_l) each
    relative = (L - l + 1) * gamma(max(arch.sizes) + 1, FLOAT64.u) * G.T
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))

    def evaluate(j: np.ndarray, t_j: np.ndarray):
        out = [np.empty(t_j.shape), np.empty(t_j.shape), np.empty(t_j.shape, bool)]
        out.append(np.empty(t_j.shape))
        for start in range(0, j.size, K):
            c = slice(start, start + K)
            dz = _RICHARDSON_STEPS[:, None, None] * t_j[c]  # (4, K, n)
            h_L, out[2][c], out[3][c] = _real_step_outputs(arch, params, trace, l, j[c], dz)
            with np.errstate(over="ignore", invalid="ignore"):
                E_rows = loss.textbook_per_example(h_L, y)  # (4, K, n): each row's loss on its own
                out[0][c], out[1][c] = _richardson(E_rows, t_j[c], noise[:, j[c]].T)
        return out

    slope, error, crossed, reach, t = _within_reach(t, evaluate, STEP_ROUNDS if controlled else 1)
    untrusted = _untrusted(slope, error, reach, crossed, controlled)
    error = error + relative
    return _from_units(trace.h[l - 1], slope.T / n, error.T / n, crossed.T, untrusted.T, t.T)


def _complex_units_layer(arch, params, trace, y, l):
    """Layer l from complex steps i h in each z^l_ij, then _from_units.

    The same numbers as the complex step in each parameter, up to rounding: Im parts are
    linear (h^2 = 0), so Im E(theta + i h e_{W_ij}) = sum_i' h^{l-1}_i'i Im L_i'(z^l_i'j + i h)
    / n, which is (h^{l-1})^T delta^l. Nothing is skipped.
    """
    n, n_l = trace.h[0].shape[0], arch.sizes[l]
    loss = LOSSES[arch.loss]
    sensitivity = _loss_sensitivity(arch, trace, y)
    slope, error = np.empty((n_l, n)), np.empty((n_l, n))
    K = _chunk_size(arch, l, n, 4)
    for start in range(0, n_l, K):
        j = np.arange(start, min(start + K, n_l))
        h_L, R_L = _complex_step_outputs(arch, params, trace, l, j, np.ones((j.size, n)))
        im = loss.per_example(h_L, y).imag  # (K, n): COMPLEX_STEP dL_i/dz^l_ij
        slope[j] = im / COMPLEX_STEP
        terms = ((R_L + np.abs(h_L.imag)) * sensitivity).sum(-1) + np.abs(im) + _SUBNORMAL
        error[j] = COMPLEX_STEP_ULPS * EPS * terms / COMPLEX_STEP
    nothing = np.zeros((n, n_l), dtype=bool)
    return _from_units(
        trace.h[l - 1], slope.T / n, error.T / n, nothing, nothing, np.zeros((n, n_l))
    )
