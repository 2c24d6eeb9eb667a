"""Finite-difference oracles: dE/dW^l and dE/db^l from values of E alone, each with its error.

Three estimators, all differentiating the reference's forward pass (its phi and its per-example
loss), never its backward pass:

- `central_differences`: (E(theta + s e_k) - E(theta - s e_k)) / 2s at steps s and s/2, combined
  by Richardson extrapolation;
- `complex_step`: Im E(theta + i h e_k) / h with h = 1e-200, exact to rounding;
- `directional_derivatives`: central differences with Richardson along K given directions, a
  cheap first line (K evaluations instead of one per parameter).

No Python loop runs over the parameters. A perturbation of W^l_ij leaves h^0..h^{l-1} untouched
and changes only column j of z^l, by s h^{l-1}[:, i] (for b^l_j: by s, in every row). So

    z^l[:, j]  <- z^l[:, j] + s v,              v = h^{l-1}[:, i]  (or 1 for b^l_j)
    h^l[:, j]  <- phi_l(z^l[:, j] + s v)
    z^{l+1}    <- z^{l+1} + (Delta h^l[:, j]) outer W^{l+1}[j, :]     (a rank-one change)

and only from layer l + 2 on is a full product h W needed, written as z^m + (Delta h^{m-1}) W^m.
Perturbations are stacked along a leading axis and processed in chunks of bounded memory. Since
most of the computation is shared by E(theta + s e_k) and E(theta - s e_k), its rounding errors
cancel in their difference. The cost is still about 4 P n n_{l+1} evaluations of phi for the
P parameters of layer l: minutes at 100,000 parameters. Rows being independent, perturb="units"
steps each z^l_ij instead (the rank-one change with v = 1, each row's loss read on its own) and
applies the exact dE/dW^l = (h^{l-1})^T delta^l: n n_l steps per layer, well under a second.

The complex step keeps the real part of every z^m and h^m exactly as the real forward pass
computed it (what Re phi(z + i h v) adds is rounding), and carries only the imaginary parts,
with a first-order bound on their rounding; so it differentiates at the forward pass's very
point, and an inaccurate real part of a complex phi cannot leak in.

Kinks. relu, leaky_relu and elu (Activation.kink is not None) are not smooth at 0. A central
difference whose perturbation moves any affected z^m of such a layer across the kink, or off it,
measures neither one-sided derivative; such an entry is marked in `Estimate.skipped`, counted,
and must not be compared. The complex step never moves the real part of any z, and every phi
branches on the real part, so it returns the derivative on the side the convention picks
(relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1) and skips nothing
(tests/test_finite_differences.py checks this at units exactly at 0).
"""

from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Array, Params
from verification.oracles.rounding import ROUNDING

EPS = float(np.finfo(np.float64).eps)

STEP_SCALE = EPS ** (1 / 3)
"""The central-difference step, relative to max(|theta_k|, 1).

Truncation error of D(s) = (E(+s) - E(-s)) / 2s is s^2 |E'''| / 6; its rounding error is about
eps |E| / s. Their sum is smallest at s ~ (3 eps |E| / |E'''|)^(1/3), i.e. eps^(1/3) ~ 6e-6 on
the scale of the parameter. At that step the truncation error is no larger than the rounding
error, so the difference between the Richardson levels D(s) and D(s/2) measures what is left
(mostly rounding), and Richardson, (4 D(s/2) - D(s)) / 3, removes the s^2 term besides.
A larger step (eps^(1/5), optimal for the extrapolated value) would leave the levels differing by
the s^2 term, which is then a gross over-estimate of the extrapolated value's error.
"""

ROUNDING_ULPS = 2
"""Rounding error of one perturbed per-example loss, in units of eps times the size of its
terms (|L_i| + sum_k |h^L_ik| |dL_i/dh^L_ik| + 1), per layer the perturbation passes through:
each layer adds about half an ULP for the sum z + Delta z and one or two for phi.
(With 1, the largest actual/estimated error ratio over 300 random networks was 0.27.)"""

COMPLEX_STEP = 1e-200
"""h of the complex step: h^2 = 1e-400 underflows to 0, so Im E(theta + i h e_k) / h is the
derivative with no truncation error at all. Derivatives smaller than about 1e-108 underflow."""

COMPLEX_STEP_ULPS = 2
"""Rounding error of the complex-step derivative in units of eps times the error terms that
_complex_step_outputs carries (each product, sum and phi adds at most a few half-ULPs)."""

_SUBNORMAL = 2.0**-1074 / EPS
"""The spacing of subnormal numbers, in units of eps: below 2^-1022 an imaginary part (about
COMPLEX_STEP times a derivative, so derivatives below ~1e-108) is rounded to a multiple of
2^-1074, an absolute error that _complex_step_outputs adds at every step of the way."""

CHUNK_BYTES = 32 * 2**20
"""Memory for the temporaries of one chunk of stacked perturbations (several arrays of this
size may be alive at once, well under 256 MB); small enough to stay near the CPU caches."""


@dataclass(frozen=True)
class Estimate:
    """A finite-difference estimate of every dE/dW^l and dE/db^l, layer order.

    method:  "central+richardson" or "complex-step";
    grads:   [(dE/dW^l, dE/db^l) for l = 1..L], shapes of W^l (n_{l-1}, n_l) and b^l (n_l,);
    error:   the same shapes: an estimate of each entry's absolute error;
    skipped: the same shapes, bool: entries whose perturbation crosses a kink (do not compare).
    """

    method: str
    grads: Params
    error: Params
    skipped: list[tuple[np.ndarray, np.ndarray]]

    @property
    def skipped_count(self) -> int:
        """How many entries were skipped because a perturbation crossed a kink."""
        return int(sum(mask.sum() for layer in self.skipped for mask in layer))


@dataclass(frozen=True)
class _Trace:
    """The unperturbed forward pass: h[l] for l = 0..L, z[l] for l = 1..L, row losses."""

    h: dict[int, np.ndarray]
    z: dict[int, np.ndarray]
    losses: np.ndarray  # L(h^L_i, y_i), shape (n,)


def _forward(arch, params: Params, x: np.ndarray, y: np.ndarray) -> _Trace:
    """z^l = h^{l-1} W^l + b^l, h^l = phi_l(z^l), with the reference's phi and loss."""
    h, z = {0: x}, {}
    for l in range(1, len(arch.sizes)):
        W, b = params[l - 1]  # layer l is params[l - 1]
        z[l] = h[l - 1] @ W + b
        h[l] = ACTIVATIONS[arch.activations[l - 1]].phi(z[l])
    L = len(arch.sizes) - 1
    return _Trace(h, z, LOSSES[arch.loss].per_example(h[L], y))


def _crosses_kink(z_new: Array, z_old: np.ndarray, kink: float) -> np.ndarray:
    """True for each row where some unit moved to the other side of the kink, onto it, or off.

    Shapes: z_new (S, K, n, m), z_old broadcastable to it -> bool (K, n): any over S and m.
    """
    moved_across = (z_new > kink) != (z_old > kink)
    moved_off = (z_old == kink) & (z_new != z_old)
    return (moved_across | moved_off).any(axis=(0, -1))


def _real_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, dz: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += dz[s, k, :], for S steps of each of K perturbations.

    Shapes: j (K,) column indices of z^l, dz (S, K, n)
    -> h^L (S, K, n, n_L), and a bool (K, n), True where some step crossed a kink in row i.
    """
    L = len(arch.sizes) - 1
    crossed = np.zeros(dz.shape[1:], dtype=bool)

    activation = ACTIVATIONS[arch.activations[l - 1]]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_col_new = z_col + dz
    if activation.kink is not None:
        crossed |= _crosses_kink(z_col_new[..., None], z_col[..., None], activation.kink)
    h_col_new = activation.phi(z_col_new)  # (S, K, n)

    if l == L:
        h = np.broadcast_to(trace.h[L], (*dz.shape, arch.sizes[L])).copy()
        h[:, np.arange(j.size), :, j] = h_col_new.transpose(1, 0, 2)  # column j_k of h^L
        return h, crossed

    # z^{l+1} changes by the rank-one term (Delta h^l[:, j]) outer W^{l+1}[j, :]
    delta_h = h_col_new - trace.h[l][:, j].T
    W_next, _ = params[l]  # W^{l+1} is params[l]
    z = delta_h[..., None] * W_next[j][:, None, :]  # (S, K, n, n_{l+1})
    z += trace.z[l + 1]
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            # z^m + (Delta h^{m-1}) W^m equals h^{m-1} W^m + b^m, but rounds only the change:
            # what E(theta + s e_k) and E(theta - s e_k) share cancels in their difference
            # (a stack of small products: one tall product would go to threaded BLAS, which
            # is many times slower at these shapes on a busy machine)
            h -= trace.h[m - 1]
            z = h @ W
            z += trace.z[m]
        activation = ACTIVATIONS[arch.activations[m - 1]]
        if activation.kink is not None:
            crossed |= _crosses_kink(z, trace.z[m], activation.kink)
        h = activation.phi(z)
    return h, crossed


def _slope(h_im: np.ndarray, z_im: np.ndarray) -> np.ndarray:
    """|phi'(z)| as the complex step measured it, |Im h| / |Im z| (1 where Im z is 0)."""
    z_abs = np.abs(z_im)
    return np.divide(np.abs(h_im), z_abs, out=np.ones_like(z_abs), where=z_abs > 0)


def _complex_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += i COMPLEX_STEP v[k], and an error bound on its imaginary part.

    Each phi is the reference's, evaluated at a complex z. The real parts stay exactly the
    unperturbed z^m and h^m (what Re phi adds is rounding, as h^2 underflows), so that the
    step differentiates at the very point of the forward pass, and z^m + i Im(h^{m-1}) W^m is
    the complex product with a real matmul.

    R^m, in units of eps, bounds the rounding in Im h^m, carried forward to first order:
        R_z^m = (R^{m-1} + |Im h^{m-1}| + sub) |W^m|     (what the sum h^{m-1} W^m may lose)
        R^m   = |phi'| R_z^m + ulps(phi) |Im h^m| + sub
    where sub = _SUBNORMAL, the rounding of an imaginary part that has become subnormal.
    Shapes: j (K,), v (K, n) -> h^L (K, n, n_L) complex, R^L (K, n, n_L).
    """
    L = len(arch.sizes) - 1
    name = arch.activations[l - 1]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_im = COMPLEX_STEP * v
    h_im = ACTIVATIONS[name].phi(z_col + 1j * z_im).imag
    R = ROUNDING[name].complex_step_ulps(z_col) * np.abs(h_im) + _SUBNORMAL

    if l == L:
        h = trace.h[L].astype(complex)[None].repeat(j.size, axis=0)
        h[np.arange(j.size), :, j] += 1j * h_im  # column j_k of h^L
        R_L = np.zeros(h.shape)
        R_L[np.arange(j.size), :, j] = R
        return h, R_L

    # Im z^{l+1} = (Im h^l[:, j]) outer W^{l+1}[j, :], a product: half an ULP
    W_next, _ = params[l]  # W^{l+1} is params[l]
    W_j = W_next[j][:, None, :]  # (K, 1, n_{l+1})
    z_im = h_im[..., None] * W_j
    R_z = R[..., None] * np.abs(W_j) + np.abs(z_im) + _SUBNORMAL
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            z_im = h_im @ W
            R_z = (R + np.abs(h_im) + _SUBNORMAL) @ np.abs(W)
        name = arch.activations[m - 1]
        h_im = ACTIVATIONS[name].phi(trace.z[m] + 1j * z_im).imag
        R = (
            _slope(h_im, z_im) * R_z
            + ROUNDING[name].complex_step_ulps(trace.z[m]) * np.abs(h_im)
            + _SUBNORMAL
        )
    return trace.h[L] + 1j * h_im, R


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


def _chunk_size(arch, l: int, n: int, evaluations: int) -> int:
    """How many perturbations of layer l fit CHUNK_BYTES, each (evaluations, n, width) float64."""
    widest = max(arch.sizes[l:])
    return max(1, CHUNK_BYTES // (evaluations * n * widest * 8))


def _loss_sensitivity(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """A bound on |d L_i / d h^L_ik|, to weigh errors in h^L as errors in the loss.

    At most 1 for the cross-entropies (|softmax - onehot|, |sigma - y|), |h - y| for
    squared_error; 1 is added for the loss's own rounding. Shape (n, n_L).
    """
    h_L = trace.h[len(arch.sizes) - 1]
    if arch.loss == "squared_error":
        return np.abs(h_L - y) + 1
    return np.full_like(h_L, 2.0)


def _rounding_of_E(arch, trace: _Trace, y: np.ndarray) -> float:
    """eps times the size of the terms of E = (1/n) sum_i L_i whose rounding does not cancel
    between two nearby evaluations: |L_i| + sum_k |h^L_ik| |dL_i/dh^L_ik| + 1, averaged."""
    h_L = trace.h[len(arch.sizes) - 1]
    scale = np.abs(trace.losses) + (np.abs(h_L) * _loss_sensitivity(arch, trace, y)).sum(-1) + 1
    return EPS * float(scale.mean())


def _power_of_two_steps(step_scale: float, magnitude: np.ndarray) -> np.ndarray:
    """s = step_scale 2^ceil(log2 magnitude): the step on the parameter's scale, rounded so that
    s/2 is exact and theta +- s differ from theta by exactly what was asked."""
    return step_scale * np.exp2(np.ceil(np.log2(magnitude)))


_RICHARDSON_STEPS = np.array([1.0, -1.0, 0.5, -0.5])
"""The multiples of the step s at which E is evaluated: +s, -s, +s/2, -s/2."""


def _richardson(
    E: np.ndarray, s: np.ndarray, rounding: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, error) from values of E at +s, -s, +s/2, -s/2 (E[0], E[1], E[2], E[3]).

    D(s) = (E(+s) - E(-s)) / 2s has error c s^2 + O(s^4) + noise; (4 D(s/2) - D(s)) / 3
    cancels the s^2 term. Its error is estimated by |D(s/2) - D(s)|, which holds what was
    cancelled and the noise of both levels, plus a bound on its own rounding: E's rounding
    `rounding` over s/2 (for D(s/2)) weighted 4/3 by the extrapolation, and D(s)'s: 3 r / s.
    Shapes: E (4, ...), s and rounding broadcastable to E[0] -> two arrays of E[0]'s shape.
    """
    D_s = (E[0] - E[1]) / (2 * s)
    D_half = (E[2] - E[3]) / s
    return (4 * D_half - D_s) / 3, np.abs(D_half - D_s) + 3 * rounding / s


def _central_layer(arch, params, trace, y, l, step_scale):
    """(estimate, error, skipped) for every parameter of layer l, flattened (P_l,)."""
    n = trace.h[0].shape[0]
    loss = LOSSES[arch.loss]
    W, b = params[l - 1]  # layer l is params[l - 1]
    theta = np.concatenate([W.ravel(), b])
    P = theta.size
    step = _power_of_two_steps(step_scale, np.maximum(np.abs(theta), 1.0))
    rounding = ROUNDING_ULPS * (len(arch.sizes) - l) * _rounding_of_E(arch, trace, y)
    j_all, i_all = _layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v_rows = np.vstack([trace.h[l - 1].T, np.ones((1, n))])  # rows of (h^{l-1})^T, then 1
    estimate, error, skipped = np.empty(P), np.empty(P), np.empty(P, dtype=bool)
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))
    for start in range(0, P, K):
        k = slice(start, min(start + K, P))
        s = step[k]
        dz = _RICHARDSON_STEPS[:, None, None] * (s[:, None] * v_rows[i_all[k]])  # (4, K, n)
        h_L, crossed = _real_step_outputs(arch, params, trace, l, j_all[k], dz)
        E = loss.per_example(h_L, y).sum(-1) / n  # (4, K), E(theta + c s_k e_k) - ...
        estimate[k], error[k] = _richardson(E, s, rounding)
        skipped[k] = crossed.any(-1)
    return estimate, error, skipped


def _complex_layer(arch, params, trace, y, l):
    """(estimate, error, skipped) for every parameter of layer l, flattened (P_l,)."""
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
    return estimate, error, np.zeros(P, dtype=bool)


def _row_rounding(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """eps times the size of the terms of each L_i whose rounding does not cancel between two
    nearby evaluations: |L_i| + sum_k |h^L_ik| |dL_i/dh^L_ik| + 1. Shape (n,)."""
    h_L = trace.h[len(arch.sizes) - 1]
    sensitivity = _loss_sensitivity(arch, trace, y)
    return EPS * (np.abs(trace.losses) + (np.abs(h_L) * sensitivity).sum(-1) + 1)


def _from_units(h_prev: np.ndarray, delta: np.ndarray, error: np.ndarray, skipped: np.ndarray):
    """Every parameter of layer l from estimates of delta^l = dE/dz^l, flattened (P_l,).

        dE/dW^l = (h^{l-1})^T delta^l,   dE/db^l = 1^T delta^l   (exact: z^l is linear in W, b)
        error:  |h^{l-1}|^T error(delta^l) + the sum's own rounding, eps |h^{l-1}|^T |delta^l|
        skipped: W^l_ij where a unit (i', j) with h^{l-1}_i'i != 0 is skipped; b^l_j where any is.
    Shapes: h_prev (n, n_{l-1}); delta, error, skipped (n, n_l) -> three (P_l,).
    """
    h_abs = np.abs(h_prev)
    grad_W, grad_b = h_prev.T @ delta, delta.sum(0)
    error_W = h_abs.T @ (error + ROUNDING_ULPS * EPS * np.abs(delta))
    error_b = (error + ROUNDING_ULPS * EPS * np.abs(delta)).sum(0)
    skipped_W = ((h_prev != 0).T.astype(float) @ skipped.astype(float)) > 0
    return (
        np.concatenate([grad_W.ravel(), grad_b]),
        np.concatenate([error_W.ravel(), error_b]),
        np.concatenate([skipped_W.ravel(), skipped.any(0)]),
    )


def _central_units_layer(arch, params, trace, y, l, step_scale):
    """Layer l from central differences of each L_i in its own z^l_ij, then _from_units.

    Rows are independent: moving column j of z^l by t_ij in every row i at once gives, in row
    i's loss, the derivative dL_i/dz^l_ij = n delta^l_ij. The step t_ij is STEP_SCALE times
    max(|z^l_ij|, 1), a power of two.
    """
    n, n_l = trace.h[0].shape[0], arch.sizes[l]
    loss = LOSSES[arch.loss]
    t = _power_of_two_steps(step_scale, np.maximum(np.abs(trace.z[l].T), 1.0))  # (n_l, n)
    rounding = ROUNDING_ULPS * (len(arch.sizes) - l) * _row_rounding(arch, trace, y)  # (n,)
    slope, error, skipped = np.empty((n_l, n)), np.empty((n_l, n)), np.empty((n_l, n), bool)
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))
    for start in range(0, n_l, K):
        j = np.arange(start, min(start + K, n_l))
        dz = _RICHARDSON_STEPS[:, None, None] * t[j]  # (4, K, n)
        h_L, skipped[j] = _real_step_outputs(arch, params, trace, l, j, dz)
        slope[j], error[j] = _richardson(loss.per_example(h_L, y), t[j], rounding)
    return _from_units(trace.h[l - 1], slope.T / n, error.T / n, skipped.T)


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
    skipped = np.zeros((n, n_l), dtype=bool)
    return _from_units(trace.h[l - 1], slope.T / n, error.T / n, skipped)


PERTURB = ("parameters", "units")
"""What central_differences and complex_step perturb, one at a time:

parameters: each W^l_ij and b^l_j (the definition; cost ~ P n n_{l+1} phi per evaluation);
units:      each pre-activation z^l_ij, then dE/dW^l = (h^{l-1})^T delta^l exactly (cost ~
            n n_l n_{l+1} per layer: far cheaper for large networks; the same numbers for the
            complex step, and an estimate of the same accuracy for central differences)."""


def _estimate(method: str, arch, params, x, y, layer_estimates) -> Estimate:
    """Run layer_estimates(arch, params, trace, y, l) for l = 1..L into an Estimate."""
    params, x, y = _as_arrays(arch, params, x, y)
    trace = _forward(arch, params, x, y)
    per_layer = [layer_estimates(arch, params, trace, y, l) for l in range(1, len(arch.sizes))]
    estimate, error, skipped = zip(*per_layer, strict=True)
    return Estimate(
        method, _unflatten(arch, estimate), _unflatten(arch, error), _unflatten(arch, skipped)
    )


def _check_perturb(perturb: str) -> None:
    if perturb not in PERTURB:
        raise ValueError(f"perturb={perturb!r}, but should be one of: {', '.join(PERTURB)}")


def _unflatten(arch, flat: tuple[np.ndarray, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split each layer's flat (P_l,) vector into (W-shaped, b-shaped) arrays."""
    out = []
    for l, values in enumerate(flat, start=1):
        m, n_l = arch.sizes[l - 1], arch.sizes[l]
        out.append((values[: m * n_l].reshape(m, n_l), values[m * n_l :]))
    return out


def _as_arrays(arch, params, x, y) -> tuple[Params, np.ndarray, np.ndarray]:
    """float64 copies where needed (never the caller's arrays modified), y as the loss wants."""
    params = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in params]
    y = np.asarray(y)
    if arch.loss != "cross_entropy":
        y = y.astype(np.float64)
    return params, np.asarray(x, dtype=np.float64), y


def central_differences(
    arch, params, x, y, *, step: float | None = None, perturb: str = "parameters"
) -> Estimate:
    """dE/dtheta_k ~ (4 D(s/2) - D(s)) / 3,  D(s) = (E(theta + s e_k) - E(theta - s e_k)) / 2s.

    The step s_k is STEP_SCALE = eps^(1/3) (see there for the reasoning) times
    max(|theta_k|, 1), rounded up to a power of two; `step` replaces STEP_SCALE. The error
    estimate of each entry is |D(s/2) - D(s)| (what Richardson removed, and the noise of both
    levels) plus a bound on the rounding of the extrapolated value, 3 rounding(E) / s.
    Entries whose perturbation moves a unit of a relu, leaky_relu or elu layer across its kink
    (or off it) are marked in `skipped`: their estimate measures neither one-sided derivative.
    perturb="units" differentiates in each z^l_ij instead (see PERTURB), for large networks.

    Shapes: as docs/contract.md, section 4. Returns an Estimate with (W, b)-shaped grads,
    error, skipped.
    """
    _check_perturb(perturb)
    step_scale = STEP_SCALE if step is None else step
    layer = _central_layer if perturb == "parameters" else _central_units_layer
    return _estimate(
        "central+richardson",
        arch,
        params,
        x,
        y,
        lambda arch, params, trace, y, l: layer(arch, params, trace, y, l, step_scale),
    )


def complex_step(arch, params, x, y, *, perturb: str = "parameters") -> Estimate:
    """dE/dtheta_k = Im E(theta + i h e_k) / h with h = COMPLEX_STEP = 1e-200.

    No truncation and no cancellation between two values of E: the error is rounding only,
    bounded to first order by _complex_step_outputs and the loss (a few eps times the terms
    of every sum on the way). Nothing is skipped: every phi branches on the real part, which
    the step does not move, so at a kink the convention's side is taken. perturb="units"
    steps each z^l_ij instead (see PERTURB): the same numbers up to rounding, far faster.

    Shapes: as docs/contract.md, section 4. Returns an Estimate (skipped all False).
    """
    _check_perturb(perturb)
    layer = _complex_layer if perturb == "parameters" else _complex_units_layer
    return _estimate("complex-step", arch, params, x, y, layer)


def _direction_outputs(
    arch, params: Params, trace: _Trace, directions: list[Params], c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L at theta + c_q d_q for a stack of Q directions d_q, with every layer perturbed.

    z^l = h^{l-1} (W^l + c D_W^l) + b^l + c D_b^l is computed as
    z^l + (Delta h^{l-1}) W^l + c (h^{l-1} D_W^l + D_b^l), which rounds only the change.
    Shapes: c (S, Q) multiples of each direction -> h^L (S, Q, n, n_L), crossed bool (Q,).
    """
    h = trace.h[0]
    crossed = np.zeros(c.shape[1], dtype=bool)  # (Q,)
    for l in range(1, len(arch.sizes)):
        W, _ = params[l - 1]  # layer l is params[l - 1]
        D_W = np.stack([d[l - 1][0] for d in directions])  # (Q, n_{l-1}, n_l)
        D_b = np.stack([d[l - 1][1] for d in directions])[:, None, :]  # (Q, 1, n_l)
        change = (h - trace.h[l - 1]) @ W if l > 1 else 0.0
        z = trace.z[l] + change + c[..., None, None] * (h @ D_W + D_b)
        activation = ACTIVATIONS[arch.activations[l - 1]]
        if activation.kink is not None:
            crossed |= _crosses_kink(z, trace.z[l], activation.kink).any(-1)
        h = activation.phi(z)
    return h, crossed


def directional_derivatives(
    arch, params, x, y, directions: list[Params]
) -> tuple[np.ndarray, np.ndarray]:
    """dE/dtheta . d_q for each direction d_q, by central differences with Richardson.

    `directions` is a list of Q parameter-shaped lists [(D_W^l, D_b^l) for l = 1..L]. Along
    d_q the step is s_q = STEP_SCALE max(max_k |theta_k|, 1) / max_k |d_qk| (a power of two),
    so that no parameter moves by more than its share of eps^(1/3); the error estimate is as
    for central_differences. Where a step moves a unit of a relu, leaky_relu or elu layer
    across its kink, the value measures no derivative and its error estimate is inf.

    Returns (values (Q,), error estimates (Q,)).
    """
    params, x, y = _as_arrays(arch, params, x, y)
    trace = _forward(arch, params, x, y)
    n = x.shape[0]
    directions = [
        [(np.asarray(D_W, dtype=np.float64), np.asarray(D_b, dtype=np.float64)) for D_W, D_b in d]
        for d in directions
    ]
    theta_max = max(max(np.abs(W).max(), np.abs(b).max()) for W, b in params)
    d_max = np.array(
        [max(max(np.abs(D_W).max(), np.abs(D_b).max()) for D_W, D_b in d) for d in directions]
    )
    step = _power_of_two_steps(STEP_SCALE, max(theta_max, 1.0) / np.where(d_max > 0, d_max, 1.0))
    rounding = ROUNDING_ULPS * (len(arch.sizes) - 1) * _rounding_of_E(arch, trace, y)
    loss = LOSSES[arch.loss]
    values, errors = np.empty(len(directions)), np.empty(len(directions))
    Q = max(1, _chunk_size(arch, 0, n, len(_RICHARDSON_STEPS)))
    for start in range(0, len(directions), Q):
        q = slice(start, min(start + Q, len(directions)))
        c = _RICHARDSON_STEPS[:, None] * step[q]  # (4, Q)
        h_L, crossed = _direction_outputs(arch, params, trace, directions[q], c)
        E = loss.per_example(h_L, y).sum(-1) / n  # (4, Q)
        values[q], errors[q] = _richardson(E, step[q], rounding)
        errors[q] = np.where(crossed, np.inf, errors[q])
    return values, errors
