"""Exact values from Python's decimal module, for the few points double-double cannot decide.

Where a result cancels so deeply that even a double-double intermediate (about 2^-92 relative,
reference.double_double.EXP_DD_RTOL) might not fix it to a quarter ULP, it is computed here one
point at a time: in decimal arithmetic at P digits, where exp and sqrt are correctly rounded,
with P doubled until the cancellation leaves at least 20 correct digits (Ziv's strategy), and
then rounded once to the nearest double (float(Decimal) rounds correctly, subnormals
included). It is slow (about a millisecond a point) and meant for a handful of points: y within
about 2^-38 of sigma(h), z within about 2^-40 of the zero of gelu_tanh'.
"""

import functools
from collections.abc import Iterator
from decimal import Context, Decimal, localcontext

FALLBACK_RTOL = 2.0**-55
"""The relative error a double-double result may carry (a quarter ULP, u / 4) before it is
rounded; where its error bound exceeds this, the decimal module computes it instead."""

_START_DIGITS = 60
_MAX_DIGITS = 4000  # far beyond any cancellation between doubles met in practice (~50 digits)
_KEPT_DIGITS = 20  # digits that must survive the cancellation before the result is rounded
_EXACT = Context(prec=1200, Emin=-(10**6), Emax=10**6)  # a sum of two doubles is exact here


def _context(digits: int) -> Context:
    return Context(prec=digits, Emin=-(10**6), Emax=10**6)


def _doubling_digits() -> Iterator[int]:
    digits = _START_DIGITS
    while digits <= _MAX_DIGITS:
        yield digits
        digits *= 2
    raise ArithmeticError(f"no result to {_KEPT_DIGITS} digits with {_MAX_DIGITS} digits")


@functools.cache
def _pi(digits: int) -> Decimal:
    """pi to about `digits` digits, by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239)."""
    with localcontext(_context(digits + 10)):
        smallest = Decimal(10) ** -(digits + 10)

        def atan_of_inverse(m: int) -> Decimal:  # sum_k (-1)^k / ((2k + 1) m^(2k + 1))
            total, power, k = Decimal(0), 1 / Decimal(m), 0
            while power > smallest:
                total += (-1) ** k * power / (2 * k + 1)
                power, k = power / (m * m), k + 1
            return total

        return 16 * atan_of_inverse(5) - 4 * atan_of_inverse(239)


def exact_sigmoid_minus(h: float, y: float, n: int) -> float:
    """(sigma(h) - y) / n, correctly rounded (sigma(h) = 1 / (1 + e^-h)).

    With p = sigma(-|h|) = e^-|h| / (1 + e^-|h|), it is (p - y) / n for h < 0 and
    ((1 - y) - p) / n for h > 0; 1 - y and each difference are exact in _EXACT.
    """
    if h == 0:  # sigma(0) = 1/2 exactly: the only h where the difference may be exactly 0
        return float(_EXACT.divide(_EXACT.subtract(Decimal("0.5"), Decimal(y)), n))
    target = Decimal(y) if h < 0 else _EXACT.subtract(1, Decimal(y))
    for digits in _doubling_digits():
        with localcontext(_context(digits)):
            e = Decimal(-abs(h)).exp()
            p = e / (1 + e)  # off by a few units of 10^-digits, relative
        difference = _EXACT.subtract(p, target)
        if _EXACT.abs(difference) >= p.scaleb(_KEPT_DIGITS - digits + 1):
            signed = difference if h < 0 else _EXACT.minus(difference)
            return float(_EXACT.divide(signed, n))
    raise AssertionError("unreachable: _doubling_digits raises first")


def exact_gelu_tanh_slope(z: float) -> float:
    """gelu_tanh'(z), correctly rounded: with v = C z + A z^3, C = 2 sqrt(2/pi), A = 0.044715 C,
    w = z v'(z) = C z + 3 A z^3 and E = e^-v,

        phi'(z) = sigma(v) + w sigma(v) sigma(-v) = (1 + E (1 + w)) / (1 + E)^2.
    """
    Z = Decimal(z)
    for digits in _doubling_digits():
        with localcontext(_context(digits + 10)):
            C = 2 * (2 / _pi(digits + 10)).sqrt()
            A = Decimal("0.044715") * C
            v = C * Z + A * Z**3
            w = C * Z + 3 * A * Z**3
            E = (-v).exp()
            term = E * (1 + w)
            numerator = 1 + term
            if abs(numerator) >= max(abs(term), Decimal(1)).scaleb(_KEPT_DIGITS - digits):
                return float(numerator / (1 + E) ** 2)
    raise AssertionError("unreachable: _doubling_digits raises first")
