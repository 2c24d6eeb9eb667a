"""The estimators of one layer that perturb each parameter W^l_ij and b^l_j (perturb=
"parameters", the definition): central differences (_central_layer) and the complex step
(_complex_layer), each returning (estimate, error, skipped, untrusted, step) flattened as
W^l.ravel() then b^l."""

import numpy as np

from reference.losses import LOSSES
from verification.oracles.finite_differences.constants import (
    _SUBNORMAL,
    COMPLEX_STEP,
    COMPLEX_STEP_ULPS,
    EPS,
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
    _first_steps,
    _power_of_two_steps,
    _richardson,
    _untrusted,
    _within_reach,
)
from verification.oracles.precision import FLOAT64, gamma


def _layer_perturbations(h_prev: np.ndarray, n_l: int) -> tuple[np.ndarray, np.ndarray]:
    """For each parameter of layer l in the order of W^l.ravel() then b^l: the column j of z^l
    it moves, and the row i of (h^{l-1})^T it moves it by (i = n_{l-1} stands for b^l, whose
    vector is all ones).

    Shapes: h_prev (n, n_{l-1}) -> j (P_l,), i (P_l,), P_l = n_{l-1} n_l + n_l.
    """
    n_prev = h_prev.shape[1]
    i = np.concatenate([np.repeat(np.arange(n_prev), n_l), np.full(n_l, n_prev)])
    j = np.concatenate([np.tile(np.arange(n_l), n_prev), np.arange(n_l)])
    return j, i


def _central_layer(arch, params, trace, y, l, step_scale, controlled, rounding_noise):
    """(estimate, error, skipped, untrusted, step) for every parameter of layer l, (P_l,) each.

    controlled: the step of the steps module (first steps on the scale of z^l, then shrunk
    until within reach); otherwise step_scale max(|theta_k|, 1), as given, evaluated once.
    """
    n, L = trace.h[0].shape[0], len(arch.sizes) - 1
    loss = LOSSES[arch.loss]
    j_all, i_all = _layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v_rows = np.vstack([trace.h[l - 1].T, np.ones((1, n))])  # rows of (h^{l-1})^T, then 1
    v = v_rows[i_all]  # (P, n): how far each parameter moves its column of z^l per unit step
    noise, G = rounding_noise  # _rounding_noise of layer l, (n, n_l) each
    # one evaluation of E = (1/n) sum_i L_i rounds the rows that move, and the sum over all rows
    rounding = ((v != 0) * noise[:, j_all].T).sum(-1) + gamma(n + 1, FLOAT64.u) * np.abs(
        trace.losses
    ).sum()
    rounding /= n
    # the products that carry the change round it relatively, once per layer passed
    relative = (L - l + 1) * gamma(max(arch.sizes) + 1, FLOAT64.u) / n
    relative *= (np.abs(v) * G[:, j_all].T).sum(-1)
    if controlled:
        step = _first_steps(step_scale, trace.z[l][:, j_all].T, v)
    else:
        W, b = params[l - 1]  # layer l is params[l - 1]
        theta = np.concatenate([W.ravel(), b])
        step = _power_of_two_steps(step_scale, np.maximum(np.abs(theta), 1.0))
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))

    def evaluate(k: np.ndarray, s: np.ndarray):
        out = [np.empty(k.size), np.empty(k.size), np.empty(k.size, dtype=bool), np.empty(k.size)]
        for start in range(0, k.size, K):
            c = slice(start, start + K)
            dz = _RICHARDSON_STEPS[:, None, None] * (s[c, None] * v[k[c]])  # (4, K, n)
            h_L, crossed, reach = _real_step_outputs(arch, params, trace, l, j_all[k[c]], dz)
            with np.errstate(over="ignore", invalid="ignore"):
                E = loss.textbook_per_example(h_L, y).sum(-1) / n  # (4, K)
                out[0][c], out[1][c] = _richardson(E, s[c], rounding[k[c]])
            out[2][c], out[3][c] = crossed.any(-1), reach.max(-1)
        return out

    estimate, error, crossed, reach, step = _within_reach(
        step, evaluate, STEP_ROUNDS if controlled else 1
    )
    untrusted = _untrusted(estimate, error, reach, crossed, controlled)
    return estimate, error + relative, crossed, untrusted, step


def _complex_layer(arch, params, trace, y, l):
    """(estimate, error, skipped, untrusted, step) for every parameter of layer l, flattened
    (P_l,): nothing skipped or untrusted, and no step (h is COMPLEX_STEP)."""
    n = trace.h[0].shape[0]
    loss = LOSSES[arch.loss]
    sensitivity = _loss_sensitivity(arch, trace, y)
    P = arch.sizes[l - 1] * arch.sizes[l] + arch.sizes[l]
    j_all, i_all = _layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v_rows = np.vstack([trace.h[l - 1].T, np.ones((1, n))])  # rows of (h^{l-1})^T, then 1
    estimate, error = np.empty(P), np.empty(P)
    K = _chunk_size(arch, l, n, 4)  # complex h^L and the real error terms
    for start in range(0, P, K):
        k = slice(start, min(start + K, P))
        h_L, R_L = _complex_step_outputs(arch, params, trace, l, j_all[k], v_rows[i_all[k]])
        im = loss.per_example(h_L, y).imag  # (K, n): COMPLEX_STEP d L_i / d theta_k
        estimate[k] = im.sum(-1) / (n * COMPLEX_STEP)
        # what Im L_i may be off by: the errors in Im h^L, weighed by dL_i/dh^L, and the terms
        # of the loss's own sum over outputs, Im h^L_ik dL_i/dh^L_ik, and over examples
        terms = ((R_L + np.abs(h_L.imag)) * sensitivity).sum(-1) + np.abs(im) + _SUBNORMAL
        error[k] = COMPLEX_STEP_ULPS * EPS * terms.sum(-1) / (n * COMPLEX_STEP)
    nothing = np.zeros(P, dtype=bool)
    return estimate, error, nothing, nothing, np.zeros(P)
