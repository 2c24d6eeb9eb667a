"""The activation functions phi and their derivatives dphi (docs/contract.md, section 2).

Each derivative is written to stay accurate in the saturated tails, where the textbook
formulas (1 - tanh^2 z, sigma(z)(1 - sigma(z)), 1 + tanh u) cancel to nothing. The tails are
rewritten through e = exp(-|t|) <= 1, which never overflows and keeps its relative accuracy.
gelu_tanh carries v = 2 sqrt(2/pi)(z + 0.044715 z^3) in double-double (reference.double_double),
since in its tails an error in v becomes the same relative error in phi and phi'; near the zero
of its phi', e^v comes from exp_dd or, for the few z closest to it, from the decimal module.
So every phi and dphi is within 4 ULP of its exact value, relative to that value, for every
float64 z; reference/tests/test_accuracy.py checks this against mpmath on a dense grid and on
random z. float32 input is computed in float32 (gelu_tanh in float64, rounded once) and each
dphi stays within 4 float32 ULP.

Every phi also accepts complex input, for complex-step differentiation: branches test the real
part of z (never its modulus), so a tiny imaginary step passes through the branch the real part
chooses. dphi is only needed for real z.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.decimal_fallback import FALLBACK_RTOL, exact_gelu_tanh_slope
from reference.double_double import (
    EXP_DD_RTOL,
    SHIFT_64_LN2,
    DoubleDouble,
    dd_add,
    dd_div_to_double,
    dd_mul,
    exp_dd,
    one_plus,
    two_prod,
    two_sum,
)
from reference.types import Array

LEAKY_SLOPE = 0.01  # PyTorch's default negative_slope


@dataclass(frozen=True, kw_only=True)
class Activation:
    """phi and dphi = phi' of one activation, applied elementwise, and the facts about it that
    the rest of the project asks (every one must be stated: there are no defaults).

    kink:            the point where phi' jumps (relu, leaky_relu) or where phi'' does (elu,
                     whose phi' is continuous but whose central differences lose their order
                     there); None if phi is smooth. At the kink, dphi follows PyTorch's
                     convention (docs/contract.md, section 2), and slopes_at_kink holds the
                     one-sided slopes (phi'(kink-), phi'(kink+)).
    saturates:       phi' tends to a constant (0, or 1 for elu's positive side, softplus and
                     gelu_tanh) in a tail, where the textbook formulas of phi' cancel.
    unbounded:       phi(z) grows like z as z -> +inf, so an output layer of it can reach
                     logits of any size.
    exact_on_dyadic: phi maps every multiple of 2^-k in float64 to a multiple of 2^-k,
                     exactly (a layer of it keeps the next layer's pre-activations exact).
    """

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]
    kink: float | None
    slopes_at_kink: tuple[float, float] | None
    saturates: bool
    unbounded: bool
    exact_on_dyadic: bool

    def __post_init__(self) -> None:
        if (self.kink is None) != (self.slopes_at_kink is None):
            raise ValueError(
                f"activation {self.name}: kink = {self.kink} and slopes_at_kink = "
                f"{self.slopes_at_kink}, but both should be given or neither"
            )


def _positive(z: Array) -> Array:
    """The branch condition Re z > 0 (z itself for real z)."""
    return z.real > 0


# --- evaluation in blocks --------------------------------------------------------------------
# Each smooth dphi is one exp and a few cheap elementwise steps. On a large array each step
# would stream the whole array through memory; done a block at a time, the z, out and scratch
# blocks stay in the L2 cache, which makes tanh' and sigma' about a quarter faster at
# (1024, 2048).

_BLOCK = 1 << 15  # elements: three float64 blocks of 256 KB


Kernel = Callable[[Array, Array | None, Array | None], Array]
"""kernel(z, out, scratch) -> out: an elementwise dphi that writes into out and may overwrite
scratch; with out = scratch = None it allocates them (numpy's own out=None)."""


def _blockwise(kernel: Kernel, z: Array) -> Array:
    """kernel(z) elementwise, block by block of the flattened z, in the dtype of z."""
    if z.size <= _BLOCK:  # one block: as few numpy calls as possible, for small arrays
        return kernel(z, None, None)
    out = np.empty(z.shape, z.dtype)
    flat_z, flat_out = np.ascontiguousarray(z).reshape(-1), out.reshape(-1)
    scratch = np.empty(_BLOCK, z.dtype)
    for start in range(0, z.size, _BLOCK):
        z_block, out_block = flat_z[start : start + _BLOCK], flat_out[start : start + _BLOCK]
        kernel(z_block, out_block, scratch[: z_block.size])
    return out


def _divide_by_square_of_one_plus(e: Array, d: Array | None) -> Array:
    """e <- e / (1 + e)^2 in place, for 0 <= e <= 1, with d as scratch.

    (1 + e)^2 is evaluated as 1 + e (2 + e): the roundings of 2 + e and e (2 + e) reach the
    sum scaled by e (4 + e) / (1 + e)^2 <= 5/4, so the denominator is off by at most 2.25 u
    (u = 2^-53), against 3 u for rounding 1 + e and then squaring it. With numpy's exp within
    0.51 ULP and the final division, e / (1 + e)^2 stays within 3.8 ULP (the squared form
    reaches 4.3 ULP, at z = 6.237925268210862 for sigma' and z = 2.4224247905481846 for tanh').
    """
    d = np.add(e, 2.0, d)
    d *= e
    d += 1.0
    e /= d
    return e


# --- sigmoid and softplus -------------------------------------------------------------------


def sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^-z), through e = exp(-|z|) so that nothing overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.iscomplexobj(z):
            pos = _positive(z)
            e = np.exp(np.where(pos, -z, z))
            return np.where(pos, 1 / (1 + e), e / (1 + e))
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_slope_block(t: Array, out: Array | None, d: Array | None) -> Array:
    """sigma'(t) = e / (1 + e (2 + e)) with e = exp(-|t|)."""
    e = np.copysign(t, -1.0, out)  # -|t| in one step
    np.exp(e, e)
    return _divide_by_square_of_one_plus(e, d)


def _sigmoid_slope(t: Array) -> Array:
    """sigma'(t) = sigma(t) sigma(-t) = e / (1 + e)^2 with e = exp(-|t|)."""
    return _blockwise(_sigmoid_slope_block, t)


def _sigmoid_block(t: Array, out: Array | None, d: Array | None) -> Array:
    """sigma(t) = 1 / (1 + e) for t >= 0, e / (1 + e) for t < 0, e = exp(-|t|)."""
    e = np.copysign(t, -1.0, out)  # -|t| in one step
    np.exp(e, e)
    d = np.add(e, 1.0, d)
    np.copyto(e, 1.0, where=t >= 0)
    e /= d
    return e


def _dsoftplus(z: Array) -> Array:
    """softplus'(z) = sigma(z), in blocks (sigmoid itself serves phi, also for complex z)."""
    return _blockwise(_sigmoid_block, z)


def _complex_log1p(w: Array) -> Array:
    """log(1 + w) for complex w, with the real part accurate when |w| is small.

    NumPy's complex log1p takes the real part as log|1 + w|, which loses the digits of a small
    w (1e-3 relative at |w| = 1e-13); here Re = log1p(2 Re w + |w|^2) / 2 keeps them.
    """
    return 0.5 * np.log1p(2 * w.real + (w.real**2 + w.imag**2)) + 1j * np.arctan2(
        w.imag, 1 + w.real
    )


def softplus(z: Array) -> Array:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact everywhere (no cut-off at z = 20)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.iscomplexobj(z):
            pos = _positive(z)
            return np.where(pos, z + _complex_log1p(np.exp(-z)), _complex_log1p(np.exp(z)))
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# --- tanh -----------------------------------------------------------------------------------


def _dtanh_block(z: Array, out: Array | None, d: Array | None) -> Array:
    """tanh'(z) = 4 e / (1 + e (2 + e)) with e = exp(-2|z|)."""
    e = np.copysign(z, -1.0, out)  # -|z| in one step
    e *= 2.0
    np.exp(e, e)
    e = _divide_by_square_of_one_plus(e, d)
    e *= 4.0
    return e


def _dtanh(z: Array) -> Array:
    """tanh'(z) = sech^2 z = 4 e / (1 + e)^2 with e = exp(-2|z|).

    The textbook 1 - tanh^2 z is exactly 0 in float64 past |z| of about 19; this is not.
    """
    return _blockwise(_dtanh_block, z)


# --- the piecewise ones ---------------------------------------------------------------------


def _relu(z: Array) -> Array:
    return np.where(_positive(z), z, 0)


def _drelu(z: Array) -> Array:
    return (z > 0).astype(z.dtype)  # relu'(0) = 0


def _leaky_relu(z: Array) -> Array:
    return np.where(_positive(z), z, LEAKY_SLOPE * z)


def _dleaky_relu(z: Array) -> Array:
    return np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype)  # leaky_relu'(0) = 0.01


def _elu(z: Array) -> Array:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(_positive(z), z, np.expm1(z))


def _delu_block(z: Array, out: Array | None, _scratch: Array | None) -> Array:
    """1 for z > 0, e^z otherwise (elu'(0) = e^0 = 1), as exp(min(z, 0)): exp(0) is exactly 1."""
    e = np.minimum(z, 0.0, out=out)
    np.exp(e, e)
    return e


def _delu(z: Array) -> Array:
    return _blockwise(_delu_block, z)


# --- gelu_tanh ------------------------------------------------------------------------------
# gelu_tanh(z) = z/2 (1 + tanh u) with u = sqrt(2/pi) (z + 0.044715 z^3). Since
# 1 + tanh u = 2 sigma(2u), it is z sigma(v) with v = 2u = C z + A z^3, and
#     phi'(z) = sigma(v) + z v'(z) sigma'(v),   v'(z) = C + 3 A z^2.
# In the tails sigma'(v) ~ e^-|v| with |v| up to ~745: an absolute error in v becomes the same
# relative error in phi'. Plain float64 would leave v off by ~|v| eps, hundreds of ULP, so v is
# carried as an unevaluated sum hi + lo of two doubles (double-double arithmetic), and the
# constants C = 2 sqrt(2/pi) and A = 2 sqrt(2/pi) 0.044715 with them (from mpmath at 60 digits;
# reference/tests/test_accuracy.py checks them).

_C_HI, _C_LO = float.fromhex("0x1.9884533d43651p+0"), float.fromhex("-0x1.cbc0d30ebfd15p-54")
_A_HI, _A_LO = float.fromhex("0x1.2444f2a4d8b4bp-4"), float.fromhex("-0x1.6c843a29d1c70p-61")
_TWO_SQRT_2_OVER_PI = 2 * math.sqrt(2 / math.pi)  # a Python float, so float32 stays float32
_GELU_TAIL = 40.0  # past |z| = 40, |v| > 4500: sigma'(v) underflows to 0
_GELU_DEEP = 700.0  # past v = -700, e^-|v| < 1e-304 nears the subnormals: carry it times 2^64
_SHIFT_HI, _SHIFT_LO = SHIFT_64_LN2  # e^-|v| carried as 2^64 e^-|v| where deep


def _gelu_terms(z: Array) -> tuple[DoubleDouble, DoubleDouble]:
    """(C z, A z^3), each to about 2^-100 relative, for float64 z with |z| <= _GELU_TAIL."""
    sq, sq_err = two_prod(z, z)
    cube, cube_err = two_prod(sq, z)
    cube_err += sq_err * z
    cubic, cubic_err = two_prod(cube, np.full_like(z, _A_HI))
    cubic_err += _A_HI * cube_err + _A_LO * cube
    linear, linear_err = two_prod(z, np.full_like(z, _C_HI))
    linear_err += _C_LO * z
    return (linear, linear_err), (cubic, cubic_err)


def _gelu_v(linear: DoubleDouble, cubic: DoubleDouble) -> DoubleDouble:
    """v = C z + A z^3, normalized (|v_lo| <= ulp(v_hi) / 2)."""
    return two_sum(*dd_add(linear, cubic))


def _gelu_slope_factor(linear: DoubleDouble, cubic: DoubleDouble) -> DoubleDouble:
    """w = z v'(z) = C z + 3 A z^3."""
    three_cubic, three_cubic_err = two_sum(cubic[0], 2 * cubic[0])  # 3 cubic exactly (2 cubic is)
    return dd_add(linear, (three_cubic, three_cubic_err + 3 * cubic[1]))


def _exp_of_minus_abs_v(v: DoubleDouble, deep: Array) -> DoubleDouble:
    """e = e^-|v| (times 2^64 where deep), from numpy's exp of the high part.

    |v_hi| >= 512 where deep, so |v_hi| - _SHIFT_HI is exact (both are multiples of 2^-43).
    e = exp(shift - |v_hi + v_lo|) = e0 (1 + x) with |x| < 2^-43: x^2 / 2 is below 2^-87 of e,
    far under exp's own error in e0 (0.72 ULP measured for numpy's exp).
    """
    hi, lo = v
    shift_hi, shift_lo = np.where(deep, _SHIFT_HI, 0.0), np.where(deep, _SHIFT_LO, 0.0)
    e0 = np.exp(shift_hi - np.abs(hi))
    return e0, e0 * (np.where(hi < 0, lo, -lo) + shift_lo)


def _gelu_tanh_block(z: Array, out: Array | None, _scratch: Array | None) -> Array:
    """out = phi(z) = z sigma(v) for float64 z, with v in double-double.

    With e = e^-|v|: phi = z e / (1 + e) for v < 0 and z / (1 + e) for v >= 0, numerator and
    denominator in double-double, rounded once. In the negative tail phi ~ z e^v, so an error
    in v would become the same relative error in phi (in plain float64 v is off by ~|v| u,
    hundreds of ULP at z = -19); carried in double-double it is not. What is left is exp's
    error in e, at most 0.72 ULP (measured), which reaches phi times 1 / (1 + e) <= 1 or
    e / (1 + e) < 1/2: within 2 ULP with the final rounding.

    Deep in the negative tail (v < -_GELU_DEEP) e turns subnormal while phi ~ z e is a normal
    float up to 40 times larger: there e is carried as e 2^64 (1 + e is still 1 to 1e-285),
    and the result scaled back by 2^-64 at the end, one rounding. Past z = _GELU_TAIL,
    phi(z) = z to the last bit; below -_GELU_TAIL it is -0 (e^v < 1e-1900).
    """
    zc = np.clip(z, -_GELU_TAIL, _GELU_TAIL)
    v = _gelu_v(*_gelu_terms(zc))
    negative, deep = v[0] < 0, v[0] < -_GELU_DEEP
    e = _exp_of_minus_abs_v(v, deep)
    A = one_plus(e)
    z_e, z_e_err = two_prod(zc, e[0])
    N = (np.where(negative, z_e, zc), np.where(negative, z_e_err + zc * e[1], 0.0))
    phi = np.multiply(dd_div_to_double(N, A), np.where(deep, 2.0**-64, 1.0), out)
    np.copyto(phi, z, where=z > _GELU_TAIL)
    return np.copysign(phi, z, out=phi)  # phi has the sign of z, also where it underflows


def _gelu_tanh(z: Array) -> Array:
    """phi(z) = z sigma(v), v = C z + A z^3 (see _gelu_tanh_block).

    Complex z (for complex steps) takes the plain formula: its real part is within 1e-13 of
    phi there, not within ULPs.
    """
    if np.iscomplexobj(z):
        v = _TWO_SQRT_2_OVER_PI * (z + 0.044715 * z**3)
        return z * sigmoid(v)
    if z.dtype != np.float64:  # the double-double needs float64: compute there, round once
        return _blockwise(_gelu_tanh_block, z.astype(np.float64)).astype(z.dtype)
    return _blockwise(_gelu_tanh_block, z)


def _gelu_slope_from_e(
    e: DoubleDouble, w: DoubleDouble, negative: Array, deep: Array, out: Array | None
) -> Array:
    """phi'(z) from e = e^-|v| (times 2^64 where deep) and w = z v'(z), rounded once.

    With A = 1 + e, over the common denominator D = A^2:
        phi' = (e A + e w) / D  for v < 0,    phi' = (A + e w) / D  for v >= 0.
    """
    A = one_plus(e)  # exactly 1 + e0 + ... where deep
    D = dd_mul(A, A)
    level = dd_mul(A, (np.where(negative, e[0], 1.0), np.where(negative, e[1], 0.0)))
    N = dd_add(level, dd_mul(e, w))
    return np.multiply(dd_div_to_double(N, D), np.where(deep, 2.0**-64, 1.0), out)


# Near the zero of phi' (z0 = -0.7524614..., where v = -1.23), phi' = e (1 + e + w) / A^2 for
# v < 0 cancels in 1 + e + w. An error eps in e reaches phi' times the amplification
# |1 + 2e + w| / |1 + e + w|. Where that exceeds _GELU_AMPLIFICATION, e is recomputed by
# exp_dd (relative error EXP_DD_RTOL instead of exp's 0.72 ULP); where even EXP_DD_RTOL times
# the amplification could exceed FALLBACK_RTOL of phi', the few z left (within about 2^-40 of z0)
# go to the decimal module.
# exp's 0.72 ULP of e (1.44 u relative, u = 2^-53) amplified at most twice, plus the final
# rounding: within 3.4 ULP of phi' at the very worst (measured: 1.3 ULP)
_GELU_AMPLIFICATION = 2.0


def _dgelu_tanh_block(z: Array, out: Array | None, _scratch: Array | None) -> Array:
    """out = phi'(z) = sigma(v) + w sigma'(v) for float64 z, w = z v'(z), in double-double.

    Numerator and denominator (_gelu_slope_from_e) are double-doubles, rounded once. What is
    left is the error in e: exp's 0.72 ULP (measured), which reaches phi' times at most
    _GELU_AMPLIFICATION, or less than a quarter ULP where e comes from exp_dd or decimal.

    Deep in the negative tail (v < -_GELU_DEEP) e turns subnormal while phi' ~ e (1 + w) is
    still a normal float, up to 1e4 times larger: there e is carried as e 2^64 =
    exp(64 ln 2 - |v|), and the result scaled back by 2^-64 at the end.
    """
    zc = np.clip(z, -_GELU_TAIL, _GELU_TAIL)
    linear, cubic = _gelu_terms(zc)
    v, w = _gelu_v(linear, cubic), _gelu_slope_factor(linear, cubic)
    negative, deep = v[0] < 0, v[0] < -_GELU_DEEP
    e = _exp_of_minus_abs_v(v, deep)
    slope = _gelu_slope_from_e(e, w, negative, deep, out)
    with np.errstate(divide="ignore", invalid="ignore"):  # 1 + e + w = 0 is caught below
        amplification = np.abs(1 + 2 * e[0] + w[0]) / np.abs(1 + e[0] + w[0])
    near_zero = negative & ~(amplification <= _GELU_AMPLIFICATION)
    if near_zero.any():
        slope[near_zero] = _dgelu_near_its_zero(
            zc[near_zero],
            (v[0][near_zero], v[1][near_zero]),
            (w[0][near_zero], w[1][near_zero]),
            amplification[near_zero],
        )
    return slope


def _dgelu_near_its_zero(z: Array, v: DoubleDouble, w: DoubleDouble, amplification: Array) -> Array:
    """phi'(z) where v < 0 and 1 + e + w cancels: e from exp_dd, or the decimal module."""
    hi, lo = v
    e_hi, e_lo = exp_dd(hi)  # e^v = e^hi (1 + lo), lo^2 < 2^-100 here (|v| < 2)
    e = (e_hi, e_lo + e_hi * lo)
    negative, deep = np.ones(z.shape, bool), np.zeros(z.shape, bool)
    slope = _gelu_slope_from_e(e, w, negative, deep, None)
    undecided = np.flatnonzero(~(amplification * EXP_DD_RTOL <= FALLBACK_RTOL))
    for i in undecided:
        slope[i] = exact_gelu_tanh_slope(float(z[i]))
    return slope


def _dgelu_tanh(z: Array) -> Array:
    """phi'(z) = sigma(v) + z v'(z) sigma'(v), v = C z + A z^3 (see _dgelu_tanh_block)."""
    if z.dtype != np.float64:  # the double-double needs float64: compute there, round once
        return _blockwise(_dgelu_tanh_block, z.astype(np.float64)).astype(z.dtype)
    return _blockwise(_dgelu_tanh_block, z)


# --- the table ------------------------------------------------------------------------------


def _identity(z: Array) -> Array:
    return z


def _didentity(z: Array) -> Array:
    return np.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            name="identity",
            phi=_identity,
            dphi=_didentity,
            kink=None,
            slopes_at_kink=None,
            saturates=False,
            unbounded=True,
            exact_on_dyadic=True,
        ),
        Activation(
            name="sigmoid",
            phi=sigmoid,
            dphi=_sigmoid_slope,
            kink=None,
            slopes_at_kink=None,
            saturates=True,
            unbounded=False,
            exact_on_dyadic=False,
        ),
        Activation(
            name="tanh",
            phi=np.tanh,
            dphi=_dtanh,
            kink=None,
            slopes_at_kink=None,
            saturates=True,
            unbounded=False,
            exact_on_dyadic=False,
        ),
        Activation(
            name="relu",
            phi=_relu,
            dphi=_drelu,
            kink=0.0,
            slopes_at_kink=(0.0, 1.0),
            saturates=False,
            unbounded=True,
            exact_on_dyadic=True,
        ),
        Activation(
            name="leaky_relu",
            phi=_leaky_relu,
            dphi=_dleaky_relu,
            kink=0.0,
            slopes_at_kink=(LEAKY_SLOPE, 1.0),
            saturates=False,
            unbounded=True,
            exact_on_dyadic=False,  # 0.01 z is not a multiple of z's lowest bit
        ),
        Activation(
            name="softplus",
            phi=softplus,
            dphi=_dsoftplus,
            kink=None,
            slopes_at_kink=None,
            saturates=True,
            unbounded=True,
            exact_on_dyadic=False,
        ),
        Activation(
            name="elu",
            phi=_elu,
            dphi=_delu,
            kink=0.0,
            slopes_at_kink=(1.0, 1.0),  # phi' is continuous; phi'' jumps from 1 to 0
            saturates=True,
            unbounded=True,
            exact_on_dyadic=False,
        ),
        Activation(
            name="gelu_tanh",
            phi=_gelu_tanh,
            dphi=_dgelu_tanh,
            kink=None,
            slopes_at_kink=None,
            saturates=True,
            unbounded=True,
            exact_on_dyadic=False,
        ),
    )
}
"""Each activation name of docs/contract.md (section 2), mapped to its phi, dphi and facts."""
