"""The tolerance policy's constants: the floating-point formats, and one constant per assumption
about how a correct implementation rounds, each with its reason (verification.oracles.tolerance
uses them; docs/tolerance.md tabulates them).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Precision:
    """The floating-point format an implementation computes in.

    u: the unit roundoff, |fl(a op b) - (a op b)| <= u |a op b| for normal results;
    p: the significand bits (a number is exact if it is an integer times 2^e with fewer
       than 2^p of them);
    min_exponent: the least exponent e for which the exactness test trusts multiples of 2^e:
       the smallest subnormal 2^-1074 in float64, the smallest normal 2^-126 in float32
       (flush to zero);
    eta: the absolute error of one rounding below the normal range, which the relative model
       u misses, carried through the analysis. float32: the smallest normal 2^-126, since GPUs
       flush float32 subnormals to zero by default; a formula evaluated there is off by
       TERM_U eta. float64: 0, and `floor` covers underflow instead: carrying 2^-1074 would fill
       the bound arrays with subnormal numbers, which make x86 arithmetic 10 to 100 times slower;
    floor: added to every allowance, the smallest normal number of the format: a gradient
       entry below it is lost to underflow anyway (an intermediate underflow would need an
       amplification of 2^52 to outgrow it in float64);
    tanh_saturates: past this |w|, a library tanh returns exactly +-1. The exact tanh rounds
       to +-1 past 19.06 in float64 and 9.01 in float32 (1 - |tanh w| ~ 2 e^(-2|w|) < u/2);
       NumPy's tanh returns +-1 from 18.99 (float64) and 10.0 (float32), PyTorch's from 19.06
       and 9.01, 2 / (1 + e^-2w) - 1 and 1 - 2 / (e^2w + 1) from 18.37 on one side and 19.07
       on the other (float64). Only gelu_tanh' needs it (see _gelu_slope_terms).
    """

    name: str
    u: float
    p: int
    min_exponent: int
    eta: float
    floor: float
    tanh_saturates: float


FLOAT64 = Precision(
    "float64",
    u=2.0**-53,
    p=53,
    min_exponent=-1074,
    eta=0.0,
    floor=2.0**-1022,
    tanh_saturates=20.0,
)
FLOAT32 = Precision(
    "float32",
    u=2.0**-24,
    p=24,
    min_exponent=-126,
    eta=2.0**-126,
    floor=2.0**-126,
    tanh_saturates=10.5,
)
PRECISIONS = {p.name: p for p in (FLOAT64, FLOAT32)}
"""The formats an implementation may compute in, by name: the gate's --dtype."""

ELEMENTARY_ULPS = 4
"""exp, log, log1p, expm1, tanh, cosh are within 4 ULP of the exact result: NumPy's own accuracy
tests accept at most 4 ULP for these in float32 (log) and 2 in float64 (tanh)
(numpy/_core/tests/data/umath-validation-set-*.csv); glibc and PyTorch's SLEEF kernels are
within 1 to 2 ULP."""

ULP_IN_U = 2
"""One ULP of a number x is at most 2u|x| (and at least u|x|)."""

TERM_ULPS = 8
"""'A few ULP of the terms of its textbook formula': an activation value or slope, or a loss
gradient entry, is within 8 ULP of the sum of the absolute values of its formula's terms. The
longest chains used here are one elementary function (ELEMENTARY_ULPS = 4 ULP) followed by up
to 8 roundings of half an ULP each (4 ULP) of quantities bounded by those terms; e.g. sigmoid'
as s (1 - s) with s = 0.5 (1 + tanh(z/2)) needs 9u + 2u <= 16u of the terms (1, s'), and
tanh' as 1 - tanh^2 needs at most 17u of the terms (1, tanh^2)."""

TERM_U = TERM_ULPS * ULP_IN_U
"""TERM_ULPS expressed in units of u: error <= TERM_U u sum|terms|."""

DIVIDE_BY_N_ROUNDINGS = 2
"""The 1/n of the batch mean costs two roundings wherever it is applied: fl(1/n), then the
product (or one division); applied to g or to the final gradients, it is the same relative
perturbation of every gradient entry, since backprop is linear in g."""

KINK_SLACK = 2
"""A unit is ambiguous at its kink if |z - kink| <= 2 e_z: the z held here is itself a
computed value, within e_z of the exact one, which an implementation may see on either side
when the exact z lies within e_z of the kink."""

SUM_SLACK = 2.0**-30
"""Margin on a computed sum of |terms| in the exactness test: the computed sum is within
gamma_k of the exact one, and gamma_k < 2^-31 for every k below 2^20 in float64."""


def gamma(k: int, u: float) -> float:
    """gamma_k = k u / (1 - k u): the relative error bound of a sum of k products, any order."""
    return k * u / (1 - k * u)


def precision_of(dtype: object) -> Precision:
    """FLOAT64 or FLOAT32 for "float64" or "float32", or a NumPy dtype (or type) of them."""
    try:
        return PRECISIONS[np.dtype(dtype).name]
    except (KeyError, TypeError):
        raise ValueError(
            f"dtype {dtype!r} has no tolerance policy; valid: {', '.join(PRECISIONS)}"
        ) from None
