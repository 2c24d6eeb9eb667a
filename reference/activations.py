"""The activation functions phi and their derivatives dphi (CONTRACT section 2).

Each derivative is written to stay accurate in the saturated tails, where the textbook
formulas (1 - tanh^2 z, sigma(z)(1 - sigma(z)), 1 + tanh u) cancel to nothing. The tails are
rewritten through e = exp(-|t|) <= 1, which never overflows and keeps its relative accuracy,
so each dphi is within a few ULP of the exact value for every float64 z.

Every phi also accepts complex input, for complex-step differentiation: branches test the real
part of z (never its modulus), so a tiny imaginary step passes through the branch the real part
chooses. dphi is only needed for real z.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.types import Array

LEAKY_SLOPE = 0.01  # PyTorch's default negative_slope


@dataclass(frozen=True)
class Activation:
    """phi and dphi = phi' of one activation, applied elementwise.

    `kink` is the point where phi' jumps (relu, leaky_relu) or where phi'' does (elu, whose
    phi' is continuous but whose central differences lose their order there); None if phi is
    smooth. At the kink, dphi follows PyTorch's convention (CONTRACT section 2).
    """

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]
    kink: float | None = None


def _positive(z: Array) -> Array:
    """The branch condition Re z > 0 (z itself for real z)."""
    return z.real > 0


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


def _sigmoid_slope(t: Array) -> Array:
    """sigma'(t) = sigma(t) sigma(-t) = e / (1 + e)^2 with e = exp(-|t|)."""
    e = np.abs(t)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1
    d *= d
    e /= d
    return e


def softplus(z: Array) -> Array:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact everywhere (no cut-off at z = 20)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.iscomplexobj(z):
            pos = _positive(z)
            return np.where(pos, z + np.log1p(np.exp(-z)), np.log1p(np.exp(z)))
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# --- tanh -----------------------------------------------------------------------------------


def _dtanh(z: Array) -> Array:
    """tanh'(z) = sech^2 z = 4 e / (1 + e)^2 with e = exp(-2|z|).

    The textbook 1 - tanh^2 z is exactly 0 in float64 past |z| of about 19; this is not.
    """
    e = np.abs(z)
    e *= -2
    np.exp(e, out=e)
    d = e + 1
    d *= d
    e *= 4
    e /= d
    return e


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


def _delu(z: Array) -> Array:
    return np.where(z > 0, 1, np.exp(np.minimum(z, 0))).astype(z.dtype)  # elu'(0) = e^0 = 1


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
_SPLITTER = 134217729.0  # 2^27 + 1, Veltkamp's constant for float64
_GELU_TAIL = 40.0  # past |z| = 40, |v| > 4500: sigma'(v) underflows to 0


def _split(a: Array) -> tuple[Array, Array]:
    """a = hi + lo exactly, each half with at most 26 significant bits (Veltkamp)."""
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def _two_prod(a: Array, b: Array) -> tuple[Array, Array]:
    """a b = p + err exactly, p = fl(a b) (Dekker)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, err


def _two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """a + b = s + err exactly, s = fl(a + b) (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _gelu_v(z: Array) -> tuple[Array, Array]:
    """v = C z + A z^3 as hi + lo, to about 2^-100 relative. z must be float64, |z| <= 40."""
    sq, sq_err = _two_prod(z, z)
    cube, cube_err = _two_prod(sq, z)
    cube_err += sq_err * z
    cubic, cubic_err = _two_prod(cube, np.full_like(z, _A_HI))
    cubic_err += _A_HI * cube_err + _A_LO * cube
    linear, linear_err = _two_prod(z, np.full_like(z, _C_HI))
    linear_err += _C_LO * z
    hi, lo = _two_sum(linear, cubic)
    lo += linear_err + cubic_err
    return _two_sum(hi, lo)


def _gelu_tanh(z: Array) -> Array:
    """z sigma(v); the forward value needs no double-double (its error is relative to z)."""
    v = _TWO_SQRT_2_OVER_PI * (z + 0.044715 * z**3)
    return z * sigmoid(v)


def _dgelu_tanh(z: Array) -> Array:
    """phi'(z) = sigma(v) + z (C + 3 A z^2) sigma'(v), with v in double-double."""
    if z.dtype != np.float64:  # float32: compute in float64 and round once
        return _dgelu_tanh(z.astype(np.float64)).astype(z.dtype)
    zc = np.clip(z, -_GELU_TAIL, _GELU_TAIL)
    hi, lo = _gelu_v(zc)
    # e = exp(-|hi + lo|) = exp(-|hi|) (1 - sign(hi) lo), since |lo| <= ulp(hi) / 2
    e = np.exp(-np.abs(hi)) * (1 - np.sign(hi) * lo)
    one_plus_e = 1 + e
    sigma_v = np.where(hi >= 0, 1 / one_plus_e, e / one_plus_e)
    slope = e / (one_plus_e * one_plus_e)
    return sigma_v + zc * (_C_HI + 3 * _A_HI * zc * zc) * slope


# --- the table ------------------------------------------------------------------------------


def _identity(z: Array) -> Array:
    return z


def _didentity(z: Array) -> Array:
    return np.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", _identity, _didentity),
        Activation("sigmoid", sigmoid, _sigmoid_slope),
        Activation("tanh", np.tanh, _dtanh),
        Activation("relu", _relu, _drelu, kink=0.0),
        Activation("leaky_relu", _leaky_relu, _dleaky_relu, kink=0.0),
        Activation("softplus", softplus, sigmoid),
        Activation("elu", _elu, _delu, kink=0.0),
        Activation("gelu_tanh", _gelu_tanh, _dgelu_tanh),
    )
}
"""Each activation name of CONTRACT section 2, mapped to its phi and dphi."""
