"""The rounding-error allowance: how far a correct gradient may lie from the exact one.

Two correct implementations of backprop rarely agree to the last bit: they sum in other orders,
evaluate phi' by other formulas, divide by n at another place. Where every unit is saturated
they may even differ by 100% of a 1e-40-sized gradient, so no fixed rtol separates rounding
from a bug. Instead this module bounds, entry by entry, what rounding can do: a first-order
rounding-error analysis run on absolute values through the seed's own equations,

    forward    z^l = h^{l-1} W^l + b^l,  h^l = phi_l(z^l)
    loss       g = dE/dh^L
    backward   delta^L = phi_L'(z^L) * g,  delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    gradients  dE/dW^l = (h^{l-1})^T delta^l,  dE/db^l = 1^T delta^l

carrying next to each quantity q a bound e_q >= |q_computed - q_exact| (entrywise):

- a matrix product A B computed in any order (even one that changes from call to call) is
  within gamma_k (|A| + e_A)(|B| + e_B) + e_A |B| + |A| e_B + e_A e_B of the exact one, where k
  is the length of the sums and gamma_k = k u / (1 - k u) (Higham, Accuracy and Stability of
  Numerical Algorithms, 2nd ed., section 3.1);
- an activation value or slope computed by its textbook formula is within TERM_ULPS ULP of the
  sum of the absolute values of that formula's terms (tanh' = 1 - tanh^2 is off by ULPs of 1,
  not of the tiny result), and an error e_z in z moves phi(z) by |phi'(z)| e_z and phi'(z) by
  |phi''(z)| e_z (first order);
- a relu-like unit (Activation.kink not None) whose z may lie on either side of its kink
  within the error of z may take either side: its slope error gains the jump
  |phi'_right - phi'_left|. Where z^l is provably exact (every product and partial sum of
  h^{l-1} W^l + b^l representable, as with small integers or dyadic numbers), its error is 0
  and a unit exactly at its kink must follow the convention of docs/contract.md, section 2;
  exactness is tracked per entry, and claimed only when proved.

The result is an allowance A per entry of dE/dW^l and dE/db^l: a correct implementation
computing in the given precision differs from the exact gradient by at most A. A gate that
compares an implementation with an oracle accepts |got - oracle| <= A(impl) + A(oracle).
The bounds are computed in float64 from the magnitudes of the reference's own trace (first
order: the exact and the computed magnitudes agree to O(u)).

The analysis is worst case (gamma_k grows like k, real errors like sqrt(k)), so a correct
implementation typically uses well under 1% of A (at most about a quarter, measured over 600
cases); yet A stays near 1e-14 of a gradient entry wherever any unit on its path is
unsaturated, far below a relative error of 1e-6 or the 1e-7 relative noise of float32.
"""

from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS, sigmoid
from reference.network import Architecture, Backprop, backprop
from reference.types import Array, Params
from verification.oracles.precision import (
    DIVIDE_BY_N_ROUNDINGS,
    FLOAT64,
    KINK_SLACK,
    SUM_SLACK,
    TERM_U,
    Precision,
    gamma,
    precision_of,
)
from verification.oracles.rounding import ROUNDING, softplus_slope_terms

# --- exactness ------------------------------------------------------------------------------


_FRACTION_BITS = np.uint64(2**52 - 1)
_IMPLICIT_BIT = np.uint64(2**52)


def lowest_bit(a: Array) -> Array:
    """The exponent e of the lowest set bit of each entry: a = (odd integer) 2^e; +inf for 0.

    Read from the float64 bits: a = M 2^(E - 1075) with the 53-bit significand M (the
    implicit bit added for normal numbers, E >= 1), or a = M 2^-1074 for subnormals (E = 0);
    e is that exponent plus the trailing zeros of M. Float32 values convert exactly.
    """
    bits = np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)
    E = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    M = bits & _FRACTION_BITS
    M = np.where(E > 0, M | _IMPLICIT_BIT, M)
    trailing = np.bitwise_count((M & (~M + np.uint64(1))) - np.uint64(1))  # zeros below it
    e = np.maximum(E, 1) - 1075 + trailing
    return np.where(M == 0, np.inf, e.astype(np.float64))


def exact_pre_activation(
    h_prev: Array, exact_h_prev: np.ndarray, W: Array, b: Array, precision: Precision
) -> np.ndarray:
    """Entries of z^l = h^{l-1} W^l + b^l that every summation order computes exactly.

    Sufficient condition, per entry (r, j): every input h_ri that meets a nonzero W_ij is itself
    exact, and all terms h_ri W_ij and b_j are integer multiples of 2^q with
    sum_i |h_ri W_ij| + |b_j| < 2^(p + q) and q >= min_exponent. Then every product and every
    partial sum is such a multiple below 2^(p + q), hence representable. q is taken as
    min_i lowbit(h_ri) + min_i lowbit(W_ij) (or lowbit(b_j)), a lower bound on the true one,
    so the test errs only towards "not exact".

    Shapes: h_prev (n, n_{l-1}), exact_h_prev (n, n_{l-1}) bool, W (n_{l-1}, n_l), b (n_l,)
    -> (n, n_l) bool.
    """
    if exact_h_prev.all():
        inexact_inputs = np.zeros((h_prev.shape[0], W.shape[1]), dtype=bool)
    else:
        nonzero_W = (W != 0).astype(np.float64)
        inexact_inputs = (~exact_h_prev).astype(np.float64) @ nonzero_W > 0
        if inexact_inputs.all():  # the common case past a smooth layer: nothing more to test
            return ~inexact_inputs
    q_h = lowest_bit(h_prev).min(axis=1, initial=np.inf)  # (n,)
    q_W = lowest_bit(W).min(axis=0, initial=np.inf)  # (n_l,)
    q = np.minimum(q_h[:, None] + q_W[None, :], lowest_bit(b)[None, :])
    S = np.abs(h_prev) @ np.abs(W) + np.abs(b)
    with np.errstate(over="ignore"):
        limit = np.exp2(np.minimum(q, 2048.0) + precision.p)  # inf where q is large or inf
    return ~inexact_inputs & (q >= precision.min_exponent) & (limit > S * (1 + SUM_SLACK))


# --- the bounds, one function per equation --------------------------------------------------


def product_bound(
    A: Array, e_A: Array, B: Array, e_B: Array, k: int, precision: Precision
) -> Array:
    """e >= |fl(A_computed B_computed) - A B| for any order of sums of (up to) k terms.

    e = e_A |B| + |A| e_B + e_A e_B + gamma_k (|A| + e_A)(|B| + e_B) + k eta
      = (e_A + gamma_k (|A| + e_A)) |B| + (1 + gamma_k) (|A| + e_A) e_B + k eta,
    with A and B the (magnitudes of the) exact factors and e_A, e_B their error bounds; the
    second form takes two matrix products instead of four, one where e_B is 0.

    Shapes: A (n, k'), B (k', m) -> (n, m).
    """
    g = gamma(k, precision.u)
    abs_A_plus = np.abs(A) + e_A
    e = (e_A + g * abs_A_plus) @ np.abs(B)
    if e_B.any():
        e += ((1 + g) * abs_A_plus) @ e_B
    e += k * precision.eta
    return e


def pre_activation_bound(
    h_prev: Array,
    e_h_prev: Array,
    W: Array,
    e_W: Array,
    b: Array,
    e_b: Array,
    exact: np.ndarray,
    precision: Precision,
) -> Array:
    """e_z^l for z^l = h^{l-1} W^l + b^l: sums of n_{l-1} products and b (n_{l-1} + 1 terms).

    e = product_bound(h^{l-1}, W^l) with k = n_{l-1} + 1, plus e_b + gamma_k (|b| + e_b);
    0 where `exact` (exact_pre_activation) says every order computes z exactly.
    Shapes: h_prev, e_h_prev (n, n_{l-1}); W, e_W (n_{l-1}, n_l); b, e_b (n_l,) -> (n, n_l).
    """
    k = W.shape[0] + 1
    e_z = product_bound(h_prev, e_h_prev, W, e_W, k, precision)
    e_z += e_b + gamma(k, precision.u) * (np.abs(b) + e_b)
    return np.where(exact, 0.0, e_z)


@dataclass(frozen=True)
class UnitBounds:
    """Error bounds of one layer's activation at its computed z, entrywise (n, n_l).

    e_h: of h^l = phi(z^l); e_dphi: of phi'(z^l); exact_h: h^l is computed exactly;
    ambiguous: a kinked unit whose z may lie on either side of its kink.
    """

    e_h: Array
    e_dphi: Array
    exact_h: np.ndarray
    ambiguous: np.ndarray


def activation_bound(
    name: str, z: Array, e_z: Array, exact_z: np.ndarray, dphi_z: Array, precision: Precision
) -> UnitBounds:
    """e_h = |phi'(z)| e_z + TERM_U (u value_terms(z) + eta),
    e_dphi = |phi''(z)| e_z + TERM_U (u slope_terms(z) + eta) (+ the jump of phi' where
    ambiguous); the eta terms only where the formula is not exact.

    At an ambiguous unit the slopes and curvatures of both sides are taken at their larger.
    Shapes: z, e_z, exact_z, dphi_z (n, n_l) -> UnitBounds of (n, n_l).
    """
    rounding = ROUNDING[name]
    u, eta = precision.u, precision.eta
    value_terms = rounding.value_terms(z)
    slope_terms = rounding.slope_terms(z, precision)
    slope = np.abs(dphi_z)
    curvature = rounding.curvature(z)
    jump = 0.0
    kink = ACTIVATIONS[name].kink
    if kink is None:
        ambiguous = np.zeros(z.shape, dtype=bool)
    else:
        slope_left, slope_right = ACTIVATIONS[name].slopes_at_kink
        curv_left, curv_right = rounding.curvatures_at_kink
        ambiguous = ~exact_z & (np.abs(z - kink) <= KINK_SLACK * e_z)
        slope = np.where(ambiguous, max(slope_left, slope_right), slope)
        curvature = np.where(ambiguous, max(curv_left, curv_right), curvature)
        jump = np.where(ambiguous, abs(slope_right - slope_left), 0.0)
    e_h = slope * e_z + TERM_U * (u * value_terms + eta * (value_terms > 0))
    e_dphi = curvature * e_z + TERM_U * (u * slope_terms + eta * (slope_terms > 0)) + jump
    return UnitBounds(e_h, e_dphi, exact_z & (value_terms == 0), ambiguous)


def scaled_product_bound(
    dphi: Array, e_dphi: Array, r: Array, e_r: Array, precision: Precision
) -> Array:
    """e_delta for delta = phi'(z) * r (one rounded product, entrywise).

    e = e_dphi (|r| + e_r) + |phi'| e_r + u |phi' r| + eta. Shapes: all (n, n_l).
    """
    abs_dphi, abs_r = np.abs(dphi), np.abs(r)
    return e_dphi * (abs_r + e_r) + abs_dphi * e_r + precision.u * abs_dphi * abs_r + precision.eta


# --- the loss: g = dE/dh^L and its bound ----------------------------------------------------


def loss_gradient_bound(
    loss: str, h: Array, e_h: Array, y: np.ndarray, e_y: Array, precision: Precision
) -> tuple[Array, Array]:
    """(g, e_g): g = dE/dh^L from the computed h^L (n, n_L), and e_g >= its error.

    e_g gathers the error e_h of h^L carried through dg/dh, the loss's own formula off by
    TERM_ULPS of its terms, and the 1/n (DIVIDE_BY_N_ROUNDINGS).
    """
    n = h.shape[0]
    u, eta = precision.u, precision.eta
    if loss == "squared_error":
        # g = (h - y) / n: h - y rounds once; (h/n - y/n) rounds h/n and y/n instead
        d = h - y
        g = d / n
        e = e_h + e_y + u * (np.abs(h) + np.abs(y) + np.abs(d))
    elif loss == "binary_cross_entropy":
        # g = (sigma(h) - y) / n, sigma from any of its formulas (see _softplus_slope_terms)
        s = sigmoid(h)
        g = (s - y) / n
        e = (
            ACTIVATIONS["sigmoid"].dphi(h) * e_h
            + e_y
            + TERM_U * u * softplus_slope_terms(h)
            + u * (s + np.abs(y))
        )
    elif loss == "cross_entropy":
        g, e = _cross_entropy_bound(h, e_h, y, precision)
    else:
        raise ValueError(f"loss {loss!r} is unknown to the tolerance policy")
    e += TERM_U * eta  # the formula evaluated in the subnormal range (Precision.eta)
    return g, e / n + DIVIDE_BY_N_ROUNDINGS * (u * np.abs(g) + eta)


def _cross_entropy_bound(
    h: Array, e_h: Array, y: np.ndarray, precision: Precision
) -> tuple[Array, Array]:
    """n g = softmax(h) - onehot(y) and its error bound (before the 1/n).

    log p_k = (h_k - m) - log sum_j e^(h_j - m), m = max_k h_k. Whatever the route (shifted
    exponentials and a division, log_softmax then exp, or h_k - logsumexp(h)), the computed
    log p_k is off by ULPs of its terms |h_k|, |m|, lambda = log sum_j e^(h_j - m), plus the
    rounding of a sum of n_L exponentials (<= n_L u, and sum_j p_j |h_j - m| u <= n_L u / e):
    eps_k = TERM_U u (|h_k| + |m| + lambda + 1 + n_L), a relative error of p_k. Then
    p - onehot is off by ULPs of p_k + onehot_k ("ULPs of 1" at the label). Autodiff through
    the shift by m adds 1 - sum_j p_j at the row's maximum, off by sum_j p_j eps_j + (n_L + 1) u
    (taken at every entry within the error of h of the maximum). The error of h carries
    through |d softmax / dh| <= diag(p) + p p^T.
    """
    n, n_L = h.shape
    u = precision.u
    m = h.max(axis=1, keepdims=True)
    shifted = np.exp(h - m)
    total = shifted.sum(axis=1, keepdims=True)
    p = shifted / total
    onehot = np.zeros_like(h)
    onehot[np.arange(n), y] = 1.0
    lam = np.log(total)
    eps = TERM_U * u * (np.abs(h) + np.abs(m) + lam + 1 + n_L)
    e_max = e_h.max(axis=1, keepdims=True)
    near_max = m - h <= 2 * (e_h + e_max)
    at_max = (p * eps).sum(axis=1, keepdims=True) + (n_L + 1) * u
    e = (
        p * eps
        + TERM_U * u * (p + onehot)
        + np.where(near_max, at_max, 0.0)
        + p * e_h
        + p * (p * e_h).sum(axis=1, keepdims=True)
    )
    if n_L == 1:  # softmax of one logit is exactly 1, and g exactly 0
        e = np.zeros_like(h)
    return p - onehot, e


# --- the whole analysis ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The rounding-error bounds of every quantity of the seed, keyed by layer l as in the seed.

    e_z[l], e_h[l], e_delta[l] (n, n_l); exact_z[l] (n, n_l) bool: z^l computed exactly;
    ambiguous[l] (n, n_l) bool: a kinked unit that may take either side;
    grad_W[l] (n_{l-1}, n_l), grad_b[l] (n_l,): the allowances of dE/dW^l and dE/db^l.
    """

    precision: Precision
    e_z: dict[int, Array]
    e_h: dict[int, Array]
    e_delta: dict[int, Array]
    exact_z: dict[int, np.ndarray]
    ambiguous: dict[int, np.ndarray]
    grad_W: dict[int, Array]
    grad_b: dict[int, Array]

    @property
    def grads(self) -> Params:
        """[(A_W^l, A_b^l) for l = 1..L], shaped like the gradients (allowance adds the floor)."""
        return [(self.grad_W[l], self.grad_b[l]) for l in sorted(self.grad_W)]


def _cast_error(a: Array, precision: Precision) -> Array:
    """|a - fl(a)|: the exact error of storing a float64 input in the implementation's format."""
    a = np.asarray(a, dtype=np.float64)
    if precision is FLOAT64:
        return np.zeros_like(a)
    with np.errstate(over="ignore"):
        return np.abs(a - a.astype(np.float32).astype(np.float64))


def error_bounds(
    arch: Architecture,
    params: Params,
    x: Array,
    y: np.ndarray,
    *,
    dtype: object = np.float64,
    trace: Backprop | None = None,
) -> Bounds:
    """Run the analysis of the module docstring forward and backward; see `allowance`.

    `trace` is reference.backprop(arch, params, x, y), computed here if not given.
    """
    precision = precision_of(dtype)
    if trace is None:
        trace = backprop(arch, params, x, y)
    L = arch.L
    h, z = trace.h, trace.z
    # the inputs as the implementation holds them: exact in float64, rounded in float32
    e_h = {0: _cast_error(x, precision)}
    exact_h = {0: e_h[0] == 0}
    e_W = {l: _cast_error(params[l - 1][0], precision) for l in range(1, L + 1)}
    e_b = {l: _cast_error(params[l - 1][1], precision) for l in range(1, L + 1)}
    e_z, exact_z, e_dphi, dphi, ambiguous = {}, {}, {}, {}, {}
    for l in range(1, L + 1):
        W, b = params[l - 1]  # layer l is params[l - 1]
        exact = exact_pre_activation(h[l - 1], exact_h[l - 1], W, b, precision)
        exact &= ~(e_W[l] > 0).any(axis=0) & ~(e_b[l] > 0)
        exact_z[l] = exact
        e_z[l] = pre_activation_bound(h[l - 1], e_h[l - 1], W, e_W[l], b, e_b[l], exact, precision)
        activation = arch.activation(l)
        dphi[l] = activation.dphi(z[l])
        unit = activation_bound(activation.name, z[l], e_z[l], exact, dphi[l], precision)
        e_h[l], e_dphi[l], exact_h[l], ambiguous[l] = (
            unit.e_h,
            unit.e_dphi,
            unit.exact_h,
            unit.ambiguous,
        )

    y_float = arch.loss != "cross_entropy"
    e_y = _cast_error(y, precision) if y_float else 0.0
    g, e_g = loss_gradient_bound(arch.loss, h[L], e_h[L], y, e_y, precision)

    e_delta, grad_W, grad_b = {}, {}, {}
    n = x.shape[0]
    r, e_r = g, e_g  # delta^L = phi'(z^L) * g: the same form as a hidden layer
    for l in range(L, 0, -1):
        e_delta[l] = scaled_product_bound(dphi[l], e_dphi[l], r, e_r, precision)
        delta = trace.delta[l]
        grad_W[l] = product_bound(h[l - 1].T, e_h[l - 1].T, delta, e_delta[l], n, precision)
        grad_b[l] = (
            e_delta[l].sum(axis=0)
            + gamma(n, precision.u) * (np.abs(delta) + e_delta[l]).sum(axis=0)
            + n * precision.eta
        )
        if l > 1:
            W = params[l - 1][0]  # W^l carries delta^l back to layer l - 1
            k = W.shape[1]
            r = delta @ W.T
            e_r = product_bound(delta, e_delta[l], W.T, e_W[l].T, k, precision)
    return Bounds(precision, e_z, e_h, e_delta, exact_z, ambiguous, grad_W, grad_b)


def allowance(
    arch: Architecture,
    params: Params,
    x: Array,
    y: np.ndarray,
    *,
    dtype: object = np.float64,
    trace: Backprop | None = None,
) -> Params:
    """Per-entry absolute allowance A for dE/dW^l and dE/db^l, one (A_W, A_b) per layer.

    A correct implementation computing in `dtype` (float64, or float32 for the float32 policy:
    params, x and y rounded to float32, every operation in float32) differs from the exact
    gradient by at most A, entrywise, by the first-order rounding-error analysis of the
    module docstring. Compare two implementations with |a - b| <= A(a) + A(b).
    `trace` may pass reference.backprop(arch, params, x, y) if it is already at hand.
    """
    bounds = error_bounds(arch, params, x, y, dtype=dtype, trace=trace)
    floor = bounds.precision.floor
    return [(A_W + floor, A_b + floor) for A_W, A_b in bounds.grads]
