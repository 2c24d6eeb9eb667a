"""How far two float64 computations of the same quantity may differ, and the assertions that use it.

A property equates two computations (the gradient of a batch and the mean of one-example
gradients, E before and after a symmetry, ...). In exact arithmetic they agree; in float64 each
is within a rounding allowance of the exact value, so they may differ by the sum of the two.
The allowances of the gradients, of z^l and of delta^l come from verification.oracles.tolerance (a
first-order rounding-error analysis through the seed's equations, which also widens them where
a relu-like unit may sit on either side of its kink); this module adds the one for E.
"""

import numpy as np

import reference
from reference import LOSSES, Architecture, Params
from reference.activations import softplus
from verification.judge.compare import beyond
from verification.oracles.precision import DIVIDE_BY_N_ROUNDINGS, FLOAT64, TERM_U, gamma
from verification.oracles.rounding import ROUNDING
from verification.oracles.tolerance import Bounds, error_bounds, product_bound

u = FLOAT64.u  # the unit roundoff of float64, 2^-53


def _loss_terms(loss: str, h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row, the sum of |terms| of the per-example loss formula (n,): its value is within
    TERM_U u of that sum, however it is computed.

    squared_error  1/2 sum_k d_k^2, d = h - y: d is off by ULPs of |h| + |y|, so d^2 by
                   ULPs of (|h| + |y|) |d|;
    cross_entropy  logsumexp(h) - h_y: terms |max h|, log sum e^(h - max) (<= log n_L), |h_y|,
                   and the rounding of n_L exponentials;
    binary_cross_entropy  sum_k softplus(h_k) - y_k h_k: terms softplus(h_k) + 1, |y_k h_k|.
    """
    if loss == "squared_error":
        return ((np.abs(h) + np.abs(y) + np.abs(h - y)) * np.abs(h - y)).sum(axis=1)
    if loss == "cross_entropy":
        n_L = h.shape[1]
        m = np.abs(h).max(axis=1)
        return 2 * m + np.log(n_L) + 1 + n_L
    return (softplus(h) + 1 + np.abs(y * h)).sum(axis=1)


def error_allowance(
    arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray, bounds: Bounds | None = None
) -> float:
    """A >= |E_computed - E_exact| for a correct float64 implementation of E = mean_i L_i.

    First order: the error e_h of h^L moves E by at most sum |dE/dh^L| e_h; each L_i is off by
    TERM_U u of its terms; the mean of n values adds gamma_n of their magnitudes and the 1/n
    two roundings. `bounds` may pass verification.oracles.tolerance.error_bounds(...) if at hand.
    """
    if bounds is None:
        bounds = error_bounds(arch, params, x, y)
    loss = LOSSES[arch.loss]
    trace_h = _output(arch, params, x)
    g = loss.grad(trace_h, y)  # dE/dh^L
    L_i = loss.per_example(trace_h, y)
    n = x.shape[0]
    E = abs(L_i.mean())
    return float(
        (np.abs(g) * bounds.e_h[arch.L]).sum()
        + TERM_U * u * _loss_terms(arch.loss, trace_h, y).mean()
        + gamma(n, u) * np.abs(L_i).mean()
        + DIVIDE_BY_N_ROUNDINGS * u * E
    )


def _output(arch: Architecture, params: Params, x: np.ndarray) -> np.ndarray:
    return reference.forward(arch, params, x).h[arch.L]


def product_rounding(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The bound of verification.oracles.tolerance on the rounding of the product A B of two given
    (already computed) matrices: gamma_k |A| |B| plus the subnormal term, k = A.shape[1]."""
    return product_bound(A, np.zeros_like(A), B, np.zeros_like(B), A.shape[1], FLOAT64)


def slope_error(name: str, z: np.ndarray) -> np.ndarray:
    """How far a correct phi'(z) may lie from the reference's at the same z: TERM_U u of the
    terms of its textbook formula (1 - tanh^2 z is accurate to ULPs of 1, not of itself)."""
    return TERM_U * u * ROUNDING[name].slope_terms(z, FLOAT64)


def describe_mismatch(what: str, got: np.ndarray, expected: np.ndarray, allowed: np.ndarray) -> str:
    """The worst entry beyond its allowance, in the form "what=got, but should be expected"."""
    bad = beyond(got, expected, allowed)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.abs(got - expected) / np.maximum(allowed, np.finfo(float).tiny)
    ratio = np.where(bad, np.where(np.isnan(ratio), np.inf, ratio), -1.0)
    index = np.unravel_index(int(np.argmax(ratio)), np.shape(got))
    where = list(int(i) for i in index) if np.ndim(got) else ""
    g, e, a = np.asarray(got)[index], np.asarray(expected)[index], np.asarray(allowed)[index]
    return (
        f"{what}{where}={g:.17g}, but should be {e:.17g} (|diff| {abs(g - e):.3g}, allowed "
        f"{a:.3g}; {int(bad.sum())} of {bad.size} entries beyond their allowance)"
    )


def assert_within(what: str, got: object, expected: np.ndarray, allowed: np.ndarray) -> None:
    """Raise AssertionError unless `got` has the shape of `expected` and every entry lies within
    `allowed` of it (NaN or Inf where a finite value belongs counts as beyond)."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{what} has shape {got.shape}, but should be {expected.shape}")
    allowed = np.asarray(allowed)
    if np.broadcast_shapes(allowed.shape, expected.shape) != expected.shape:
        raise AssertionError(f"{what} has shape {got.shape}, but should be {allowed.shape}")
    allowed = np.broadcast_to(allowed, expected.shape)
    if beyond(got, expected, allowed).any():
        raise AssertionError(describe_mismatch(what, got, expected, allowed))


def assert_gradients_within(
    what: str, got: Params, expected: Params, allowed: Params, layers: range | None = None
) -> None:
    """assert_within for each dE/dW^l and dE/db^l, named by layer (1..L)."""
    if len(got) != len(expected):
        raise AssertionError(
            f"{what}: {len(got)} layers of gradients, but should be {len(expected)}"
        )
    for l in layers or range(1, len(expected) + 1):
        for k, symbol in enumerate("Wb"):
            assert_within(
                f"{what}: layer {l}: dE/d{symbol}",
                got[l - 1][k],
                expected[l - 1][k],
                allowed[l - 1][k],
            )
