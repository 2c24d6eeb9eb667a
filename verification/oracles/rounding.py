"""What rounding can do to each activation: the facts the tolerance policy needs about it.

The reference's Activation records say what each function is (its kink and the slopes either
side, whether it saturates, whether it is unbounded, whether it is exact on dyadic inputs).
This module adds, per activation, what an implementation's rounding can do to it: how an error
in z moves phi'(z) (the curvature |phi''|), and the sum of the absolute terms of the textbook
formulas of phi and phi' ("a few ULP of the terms", verification.oracles.tolerance), and where
phi is affine (finite differences need no care there). Which formulas are "textbook", and which
are out because they overflow, is docs/tolerance.md's table. Every activation of
reference.ACTIVATIONS must have its record here; a test checks that none is missing.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS, LEAKY_SLOPE, sigmoid, softplus
from reference.types import Array
from verification.oracles.precision import Precision


@dataclass(frozen=True, kw_only=True)
class Rounding:
    """What rounding can do to one activation (see verification.oracles.tolerance).

    curvature(z) = |phi''(z)|: how an error in z moves phi'(z);
    value_terms(z): sum of |terms| of phi's textbook formula (0 where phi is computed exactly,
        as relu, identity, or leaky_relu and elu for z >= 0);
    slope_terms(z, precision): the same for phi';
    curvatures_at_kink: (|phi''(kink-)|, |phi''(kink+)|) for a kinked activation, else None
        (the slopes either side are the reference's Activation.slopes_at_kink);
    complex_step_ulps(z): how many ULPs of Im phi(z + i h) the reference's complex phi may be
        off (finite_differences.complex_step rounds through it);
    reference_ulps(z): how many ULPs of phi(z) the reference's own real phi may be off
        (finite_differences.central_differences: the noise of each evaluation); tested against
        mpmath in tests/test_rounding_records.py;
    affine(z): True where phi is affine on both sides of z up to the next kink (identity
        everywhere; relu and leaky_relu everywhere but at the kink, whose crossing
        finite_differences detects on its own; elu for z > 0): a finite-difference step there
        has no truncation error, however far it moves z.
    """

    curvature: Callable[[Array], Array]
    value_terms: Callable[[Array], Array]
    slope_terms: Callable[[Array, Precision], Array]
    curvatures_at_kink: tuple[float, float] | None
    complex_step_ulps: Callable[[Array], Array | float]
    reference_ulps: Callable[[Array], Array | float]
    affine: Callable[[Array], Array]


def _few_ulps(z: Array) -> float:
    """A few ULPs: every phi of the reference but gelu_tanh's (one exp or log, a division)."""
    return 2.0


def _gelu_complex_step_ulps(z: Array) -> Array:
    """gelu_tanh = z sigma(v) with v = C (z + 0.044715 z^3): the complex forward pass rounds v
    to about |v| ULP, and in the tails Im sigma(v + i h) ~ h e^-|v| turns that absolute error
    into the same relative error (the reference's dphi avoids it; its complex phi does not)."""
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    return 2 + np.abs(2 * _K0 * (zc + _K1 * zc**3))


def _gelu_reference_ulps(z: Array) -> Array:
    """gelu_tanh = z sigma(v), v = 2 sqrt(2/pi) (z + 0.044715 z^3), in float64: v is computed in
    four roundings (z^3, the product by 0.044715, the sum, the product by 2 sqrt(2/pi)), each
    within u of the terms of v, 2 sqrt(2/pi) (|z| + 0.044715 |z|^3); an error dv moves
    log sigma(v) by sigma(-v) dv, a relative error of at most as many ULPs (an ULP is at least
    u of the value): 4 terms(v) sigma(-v) ULPs, large only in the left tail. Plus 2 ULP for
    sigma and the product by z."""
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    v = 2 * _K0 * (zc + _K1 * zc**3)
    terms = 2 * _K0 * (np.abs(zc) + _K1 * np.abs(zc) ** 3)
    return 2 + 4 * terms * sigmoid(-v)


def _nothing(z: Array, precision: Precision | None = None) -> Array:
    return np.zeros_like(z)


def _everywhere(z: Array) -> Array:
    return np.ones(np.shape(z), dtype=bool)


def _nowhere(z: Array) -> Array:
    return np.zeros(np.shape(z), dtype=bool)


def _positive(z: Array) -> Array:
    return np.asarray(z) > 0


def _sigmoid_terms(z: Array) -> Array:
    """sigma(z) as 0.5 + 0.5 tanh(z/2): terms 0.5 and 0.5 |tanh(z/2)|, so ULPs of 1/2 or more.

    1 / (1 + e^-z) is relatively accurate and needs less.
    """
    return 0.5 + 0.5 * np.abs(np.tanh(0.5 * z))


def softplus_slope_terms(z: Array, precision: Precision | None = None) -> Array:
    """sigma(z) taken as the derivative of softplus: the sigmoid formulas, or exp(z - softplus(z))
    as autodiff of logaddexp(0, z) gives it, whose terms z and softplus(z) are in log space:
    an absolute error there is a relative error sigma(z) (|z| + softplus(z)) u of the result.
    (|z| + softplus(z) overflows past 8.9e307: there it is held at the largest float.)"""
    with np.errstate(over="ignore"):
        log_terms = np.minimum(np.abs(z) + softplus(z), np.finfo(np.float64).max)
    return _sigmoid_terms(z) + sigmoid(z) * log_terms


def _sigmoid_curvature(z: Array) -> Array:
    """|sigma''| = sigma' |1 - 2 sigma| = sigma' |tanh(z/2)|."""
    return ACTIVATIONS["sigmoid"].dphi(z) * np.abs(np.tanh(0.5 * z))


def _sigmoid_slope_terms(z: Array, precision: Precision) -> Array:
    """sigma' as s (1 - s) from s off by ULPs of its terms: those terms, plus the product."""
    return _sigmoid_terms(z) + ACTIVATIONS["sigmoid"].dphi(z)


def _tanh_curvature(z: Array) -> Array:
    """|tanh''| = 2 |tanh z| sech^2 z."""
    return 2 * np.abs(np.tanh(z)) * ACTIVATIONS["tanh"].dphi(z)


def _tanh_value_terms(z: Array) -> Array:
    """tanh z as 2 / (1 + e^-2z) - 1 (terms 2 sigma(2z) <= 2 and 1: ULPs of 1, not of tanh z,
    where z is near 0), as 1 - 2 / (e^2z + 1), or as (e^z - e^-z) / (e^z + e^-z) (the numerator
    off by ULPs of the denominator: ULPs of 1 after the division), or from a library tanh
    (relatively accurate). 1 + |tanh z| covers them all within TERM_ULPS: the first, the worst,
    is off by at most 4u at any z (fl(2 sigma) relatively 2u, then an exact subtraction)."""
    return 1 + np.abs(np.tanh(z))


def _tanh_slope_terms(z: Array, precision: Precision) -> Array:
    """tanh' as 1 - tanh^2 z: terms 1 and tanh^2 z."""
    return 1 + np.tanh(z) ** 2


def _softplus_curvature(z: Array) -> Array:
    return ACTIVATIONS["sigmoid"].dphi(z)


def _softplus_value_terms(z: Array) -> Array:
    """log(1 + e^z): 1 + e^z is rounded relatively, so log is off by ULPs of 1, then of itself."""
    return 1 + softplus(z)


def _leaky_value_terms(z: Array) -> Array:
    """0.01 z for z < 0: one product (and 0.01 rounded); exact for z >= 0."""
    return np.where(z < 0, LEAKY_SLOPE * np.abs(z), 0.0)


def _leaky_slope_terms(z: Array, precision: Precision) -> Array:
    """The constant 0.01 is rounded; the slope 1 is exact."""
    return np.where(z > 0, 0.0, LEAKY_SLOPE)


def _elu_curvature(z: Array) -> Array:
    return np.where(z > 0, 0.0, np.exp(np.minimum(z, 0)))


def _elu_terms(z: Array, precision: Precision | None = None) -> Array:
    """e^z - 1 for z < 0 (terms e^z and 1), and elu' = elu(z) + 1 there (the same terms);
    exact for z >= 0 (phi(0) = e^0 - 1 = 0 and phi'(0) = 1 are exact)."""
    return np.where(z < 0, np.exp(np.minimum(z, 0)) + 1, 0.0)


# gelu_tanh(z) = z/2 (1 + tanh w), w = K0 (z + K1 z^3). Its argument w is off by ULPs of
# |K0 z| + |K0 K1 z^3| (the terms of w), which tanh carries with its slope sech^2 w.
_K0 = float(np.sqrt(2 / np.pi))
_K1 = 0.044715
_GELU_CLIP = 1e30  # past it sech^2 w is 0 and z^3 would overflow: clip inside the products


def _gelu_parts(z: Array) -> tuple[Array, Array, Array, Array, Array]:
    """(zc, t, S, w', W_abs): z clipped, tanh w, sech^2 w, dw/dz, and the terms of w."""
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    w = _K0 * (zc + _K1 * zc**3)
    t = np.tanh(w)
    e = np.exp(-2 * np.abs(w))
    S = 4 * e / (1 + e) ** 2  # sech^2 w, relatively accurate in the tails
    dw = _K0 * (1 + 3 * _K1 * zc**2)
    W_abs = _K0 * (np.abs(zc) + _K1 * np.abs(zc) ** 3)
    return zc, t, S, dw, W_abs


def _gelu_curvature(z: Array) -> Array:
    """|phi''| with phi' = (1 + t)/2 + z S w'/2: phi'' = S w' + z S (w'' - 2 t w'^2) / 2."""
    zc, t, S, dw, _ = _gelu_parts(z)
    return np.abs(S * dw + 0.5 * zc * S * (6 * _K0 * _K1 * zc - 2 * t * dw**2))


def _gelu_value_terms(z: Array) -> Array:
    """z/2 + z/2 tanh w: terms |z|/2 and |z tanh w|/2, plus |z|/2 S times the terms of w."""
    zc, t, S, _, W_abs = _gelu_parts(z)
    return 0.5 * np.abs(z) * (1 + np.abs(t)) + 0.5 * np.abs(zc) * S * W_abs


def _gelu_slope_terms(z: Array, precision: Precision) -> Array:
    """(1 + t)/2 + z (1 - t^2) w'/2: terms 1/2, |t|/2, |z w'| (1 + t^2)/2, and the error in w
    carried by d phi'/dw = S/2 - z w' t S.

    Past |w| = precision.tanh_saturates, t is exactly +-1 and 1 - t^2 exactly 0: its error is
    then the lost value S itself, not ULPs of 1 + t^2. This matters: |z w'| grows like z^3,
    and ULPs of 1 times it would swamp gelu_tanh' = 1 at large logits.
    """
    zc, t, S, dw, W_abs = _gelu_parts(z)
    w = _K0 * (zc + _K1 * zc**3)
    one_minus_t2_terms = np.where(np.abs(w) < precision.tanh_saturates, 1 + t**2, S)
    half_z_dw = 0.5 * np.abs(zc * dw)
    return 0.5 * (1 + np.abs(t) + S * W_abs) + half_z_dw * (
        one_minus_t2_terms + 2 * np.abs(t) * S * W_abs
    )


ROUNDING: dict[str, Rounding] = {
    "identity": Rounding(
        curvature=_nothing,
        value_terms=_nothing,
        slope_terms=_nothing,
        curvatures_at_kink=None,
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_everywhere,
    ),
    "relu": Rounding(
        curvature=_nothing,
        value_terms=_nothing,
        slope_terms=_nothing,
        curvatures_at_kink=(0.0, 0.0),
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_everywhere,
    ),
    "leaky_relu": Rounding(
        curvature=_nothing,
        value_terms=_leaky_value_terms,
        slope_terms=_leaky_slope_terms,
        curvatures_at_kink=(0.0, 0.0),
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_everywhere,
    ),
    "elu": Rounding(
        curvature=_elu_curvature,
        value_terms=_elu_terms,
        slope_terms=_elu_terms,
        curvatures_at_kink=(1.0, 0.0),  # phi'' = e^z on the left, 0 on the right
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_positive,
    ),
    "sigmoid": Rounding(
        curvature=_sigmoid_curvature,
        value_terms=_sigmoid_terms,
        slope_terms=_sigmoid_slope_terms,
        curvatures_at_kink=None,
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_nowhere,
    ),
    "tanh": Rounding(
        curvature=_tanh_curvature,
        value_terms=_tanh_value_terms,
        slope_terms=_tanh_slope_terms,
        curvatures_at_kink=None,
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_nowhere,
    ),
    "softplus": Rounding(
        curvature=_softplus_curvature,
        value_terms=_softplus_value_terms,
        slope_terms=softplus_slope_terms,
        curvatures_at_kink=None,
        complex_step_ulps=_few_ulps,
        reference_ulps=_few_ulps,
        affine=_nowhere,
    ),
    "gelu_tanh": Rounding(
        curvature=_gelu_curvature,
        value_terms=_gelu_value_terms,
        slope_terms=_gelu_slope_terms,
        curvatures_at_kink=None,
        complex_step_ulps=_gelu_complex_step_ulps,
        reference_ulps=_gelu_reference_ulps,
        affine=_nowhere,
    ),
}
"""Each activation of reference.ACTIVATIONS, with what rounding can do to it."""
