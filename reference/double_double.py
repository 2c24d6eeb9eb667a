"""Double-double arithmetic: a real number carried as an unevaluated sum hi + lo of two doubles.

Where a float64 result must stay within a few ULP of itself although some intermediate cancels
or is amplified (the argument of exp in a tail, sigma(h) - y, the sum of a row of exponentials),
that intermediate is carried with about 106 significant bits and the result is rounded once at
the end. The error-free transformations two_sum (Knuth) and two_prod (Dekker, with Veltkamp's
split) are exact for finite arguments away from overflow; the operations built on them are
accurate to about 2^-100 relative, and exp_dd to 2^-92 (EXP_DD_RTOL). Where a value nears the
subnormals, its lo part loses digits: there the error is also a unit of 2^-1074 absolute.

Everything is elementwise on float64 arrays, with NumPy's broadcasting, except sum_last_axis.
"""

import functools
import math
from decimal import Context, Decimal

import numpy as np

from reference.types import Array

DoubleDouble = tuple[Array, Array]
"""(hi, lo) standing for hi + lo; not necessarily normalized unless a function says so."""

_SPLITTER = 134217729.0  # 2^27 + 1, Veltkamp's constant for float64


def split(a: Array) -> DoubleDouble:
    """a = hi + lo exactly, each half with at most 26 significant bits (Veltkamp)."""
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_sum(a: Array, b: Array) -> DoubleDouble:
    """a + b = s + err exactly, s = fl(a + b) (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def one_plus(e: DoubleDouble) -> DoubleDouble:
    """1 + e for 0 <= e_hi <= 1, the leading part exact (Dekker's fast two-sum: 1 >= e_hi)."""
    s = 1.0 + e[0]
    return s, (e[0] - (s - 1.0)) + e[1]


_LARGE = 2.0**500
"""Past this magnitude a factor is scaled by 2^-64 before Dekker's product: its halves' products
(a_hi b_hi, about a b) would otherwise overflow where a b itself does not."""


def _scaled(a: Array) -> tuple[Array, Array]:
    """(a s, 1/s) with s = 2^-64 where |a| > _LARGE, else 1: exact, being a power of two."""
    large = np.abs(a) > _LARGE
    return np.where(large, a * 2.0**-64, a), np.where(large, 2.0**64, 1.0)


def _dekker_prod(a: Array, b: Array) -> DoubleDouble:
    """(fl(a b), a b - fl(a b)) by Veltkamp's split: exact while nothing overflows."""
    p = a * b
    a_hi, a_lo = split(a)
    b_hi, b_lo = split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def two_prod(a: Array, b: Array) -> DoubleDouble:
    """a b = p + err exactly, p = fl(a b) (Dekker), unless err underflows; where a split or a
    partial product overflows (factors past _LARGE), the factors are scaled by a power of two
    and the product redone, so that only a product that overflows does. The common case pays
    one test of err for it."""
    with np.errstate(over="ignore", invalid="ignore"):
        p, err = _dekker_prod(a, b)
        if np.isfinite(err).all():
            return p, err
        (a, a_back), (b, b_back) = _scaled(a), _scaled(b)
        p, err = _dekker_prod(a, b)
        back = a_back * b_back
        return p * back, err * back


def two_square(a: Array) -> DoubleDouble:
    """a^2 = p + err exactly, p = fl(a^2), unless err underflows (large a as in two_prod)."""
    with np.errstate(over="ignore", invalid="ignore"):
        p = a * a
        a_hi, a_lo = split(a)
        err = ((a_hi * a_hi - p) + 2 * a_hi * a_lo) + a_lo * a_lo
        if np.isfinite(err).all():
            return p, err
    return two_prod(a, a)


def dd_add(a: DoubleDouble, b: DoubleDouble) -> DoubleDouble:
    """a + b to about 2^-100 of the larger, exact in its leading part (cancellation is free)."""
    s, err = two_sum(a[0], b[0])
    return s, err + (a[1] + b[1])


def dd_mul(a: DoubleDouble, b: DoubleDouble) -> DoubleDouble:
    """a b to about 2^-100 relative."""
    p, err = two_prod(a[0], b[0])
    return p, err + (a[0] * b[1] + a[1] * b[0])


def dd_div(a: DoubleDouble, b: DoubleDouble) -> DoubleDouble:
    """a / b to about 2^-100 relative: q1 = a_hi / b_hi, plus the exact remainder over b_hi."""
    q1 = a[0] / b[0]
    p, err = two_prod(q1, b[0])
    remainder = ((a[0] - p) - err) + (a[1] - q1 * b[1])
    return q1, remainder / b[0]


def dd_div_to_double(a: DoubleDouble, b: DoubleDouble) -> Array:
    """a / b rounded to one double: dd_div's two parts summed (one rounding of the quotient)."""
    q1, q2 = dd_div(a, b)
    return q1 + q2


def sum_last_axis(a: DoubleDouble) -> DoubleDouble:
    """The sum over the last axis of a, to about 2^-100 of the sum of the absolute values.

    Pairwise: each level adds the first half of the columns to the second with two_sum, so a
    row of m columns takes ceil(log2 m) levels, each a few whole-array operations. Shapes:
    (..., m) -> (...).
    """
    hi, lo = a
    while hi.shape[-1] > 1:
        half = hi.shape[-1] // 2
        s, err = two_sum(hi[..., :half], hi[..., half : 2 * half])
        err += lo[..., :half] + lo[..., half : 2 * half]
        if hi.shape[-1] % 2:  # the odd last column joins the next level as it is
            s = np.concatenate([s, hi[..., -1:]], axis=-1)
            err = np.concatenate([err, lo[..., -1:]], axis=-1)
        hi, lo = s, err
    return hi[..., 0], lo[..., 0]


def finite_or_zero_lo(a: DoubleDouble) -> DoubleDouble:
    """a with lo set to 0 where hi is infinite or NaN (an overflow leaves lo = inf - inf)."""
    return a[0], np.where(np.isfinite(a[0]), a[1], 0.0)


SHIFT_64_LN2 = (float.fromhex("0x1.62e42fefa39f0p+5"), float.fromhex("-0x1.950d871319ff0p-48"))
"""64 ln 2 = hi + lo to about 2^-100, hi a multiple of 2^-43 (checked against mpmath).

exp(x + 64 ln 2) = 2^64 e^x carries a tiny e^x (x < -700, near the subnormals) as a normal
double; for |x| >= 512 (a multiple of 2^-43 too), x + hi is exact."""


# --- exp in double-double -------------------------------------------------------------------
# exp(x) = 2^q 2^(j / N) exp(r), with k = rint(x N / ln 2) = q N + j (0 <= j < N) and
# r = x - k ln2 / N, |r| <= ln2 / (2N) = 2^-13.5 for N = 4096. ln2 / N is split into three
# parts, the first two of 30 significant bits, so that k times each is exact for |k| < 2^23
# (|x| <= 746 needs |k| <= 4.41e6): r = (x - k L1) - k L2 - k L3 is exact but for the last
# product, whose rounding is below 2^-103. The table holds 2^(j / N) in double-double.
# expm1(r) = r + r^2/2 + r^3/6 + ...: r + r^2/2 is carried in double-double, and the rest
# (|r^3 / 6| < 2^-43, four roundings) in double, off by at most about 2^-94; the low parts of
# the sums and products that follow add a few units of 2^-96. EXP_DD_RTOL bounds the whole
# (reference/tests/test_accuracy.py measures 2^-94.6 against mpmath).

EXP_DD_RTOL = 2.0**-92
"""|exp_dd(x) - e^x| <= EXP_DD_RTOL e^x + 2^-1074 (the second term where e^x < 2^-968, where
lo is subnormal)."""

_EXP_TABLE_BITS = 12
_EXP_TABLE_SIZE = 1 << _EXP_TABLE_BITS
_EXP_MIN_ARG = -746.0  # e^x < 2^-1076 below: exp_dd is 0, as e^x rounds to 0
_EXP_MAX_ARG = 709.0  # e^x < 2^1023: 2^q stays finite


def _leading_bits(x: Decimal, bits: int) -> float:
    """x rounded to a double with at most `bits` significant bits."""
    mantissa, exponent = math.frexp(float(x))
    return math.ldexp(round(mantissa * 2**bits), exponent - bits)


def _decimal_to_dd(x: Decimal) -> tuple[float, float]:
    hi = float(x)
    return hi, float(x - Decimal(hi))


@functools.cache
def _exp_constants() -> tuple[float, float, float, float, np.ndarray, np.ndarray]:
    """(N / ln2, L1, L2, L3, table_hi, table_lo), from the decimal module at 40 digits.

    Decimal's exp and ln are correctly rounded; 2^(j / N) for j = 64 a + b is the double-double
    product of 2^(a / 64) and 2^(b / N), off by about 2^-104.
    """
    context = Context(prec=40)
    ln2 = context.ln(Decimal(2))
    step = context.divide(ln2, _EXP_TABLE_SIZE)
    L1 = _leading_bits(step, 30)
    L2 = _leading_bits(context.subtract(step, Decimal(L1)), 30)
    L3 = float(context.subtract(context.subtract(step, Decimal(L1)), Decimal(L2)))
    coarse = [_decimal_to_dd(context.exp(context.multiply(step, 64 * a))) for a in range(64)]
    fine = [_decimal_to_dd(context.exp(context.multiply(step, b))) for b in range(64)]
    coarse_hi, coarse_lo = (np.array(c)[:, None] for c in zip(*coarse, strict=True))
    fine_hi, fine_lo = (np.array(c)[None, :] for c in zip(*fine, strict=True))
    hi, lo = two_sum(*dd_mul((coarse_hi, coarse_lo), (fine_hi, fine_lo)))
    return float(_EXP_TABLE_SIZE / ln2), L1, L2, L3, hi.ravel(), lo.ravel()


def exp_dd(x: Array) -> DoubleDouble:
    """e^x in double-double, normalized, for float64 x (see EXP_DD_RTOL).

    Below x = -746 it is (0, 0); where e^x is subnormal, hi is e^x rounded (half a unit of
    2^-1074) and lo is lost. x must not exceed 709.
    """
    N_over_ln2, L1, L2, L3, table_hi, table_lo = _exp_constants()
    x = np.maximum(x, _EXP_MIN_ARG)
    k = np.rint(x * N_over_ln2)
    r_hi, r_lo = two_sum(x - k * L1, -k * L2)
    r_hi, r_lo = two_sum(r_hi, r_lo - k * L3)  # normalized: |r_lo| <= ulp(r_hi) / 2
    # expm1(r) = r + r^2/2 + r^3 (1/6 + r/24 + r^2/120 + r^3/720), |r| <= 2^-13.5
    square, square_err = two_prod(r_hi, r_hi)
    cubic = r_hi * square * (1 / 6 + r_hi * (1 / 24 + r_hi * (1 / 120 + r_hi * (1 / 720))))
    # the low part: r^2/2's error, and r_lo's share of r^2/2 and of r^3/6
    low = cubic + (0.5 * square_err + r_lo * (r_hi + 0.5 * square))
    p = two_sum(*dd_add((r_hi, r_lo), (0.5 * square, low)))
    j = k.astype(np.int64)
    q, j = j >> _EXP_TABLE_BITS, j & (_EXP_TABLE_SIZE - 1)
    T = (table_hi[j], table_lo[j])
    # e^x = 2^q T (1 + p) = 2^q (T + T p)
    Tp, Tp_err = two_prod(T[0], p[0])
    Tp_err += T[0] * p[1] + T[1] * p[0]
    hi, lo = dd_add(T, (Tp, Tp_err))
    hi, lo = two_sum(hi, lo)
    return np.ldexp(hi, q), np.ldexp(lo, q)
