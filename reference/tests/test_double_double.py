"""The error-free transformations of reference.double_double, checked in exact rational
arithmetic: two_prod(a, b) = (p, err) must give p = fl(a b) and p + err = a b exactly wherever
a b and err neither overflow nor underflow, also for factors so large that Veltkamp's split or
a partial product of the halves overflows (the case two_prod redoes with scaled factors)."""

from fractions import Fraction

import numpy as np
import pytest

from reference.double_double import two_prod, two_square

MAX = float(np.finfo(np.float64).max)
# the largest double below 2^512: its square 2^1024 (1 - 2^-52) is finite, but its upper half
# (26 bits) rounds up to 2^512, whose square is not
BELOW_SQRT_MAX = float(np.nextafter(2.0**512, 0.0))

# (a, b) whose product is a normal double. The first factor of each pair is past 2^996, where
# _SPLITTER a overflows, or the pair's halves multiply past the largest double.
LARGE_FACTORS = [
    (MAX, 0.75),
    (1.5e308, 1.0 / 3.0),
    (-(2.0**1000) * (1 + 2**-30), 2.0**-40 * (1 + 2**-52)),
    (2.0**997 * 1.2345678901234567, -0.1),
    (BELOW_SQRT_MAX, BELOW_SQRT_MAX),  # the product of the upper halves overflows
    (3.0e-300, 1.6e308),
]


def _exact(a: float, b: float) -> Fraction:
    return Fraction(a) * Fraction(b)


@pytest.mark.parametrize(("a", "b"), LARGE_FACTORS)
def test_two_prod_is_exact_for_factors_near_the_largest_double(a: float, b: float) -> None:
    for x, y in ((a, b), (b, a)):
        p, err = two_prod(np.array([x]), np.array([y]))
        assert p[0] == x * y, f"two_prod({x!r}, {y!r}): p = {p[0]!r}, but should be {x * y!r}"
        assert Fraction(float(p[0])) + Fraction(float(err[0])) == _exact(x, y), (
            f"two_prod({x!r}, {y!r}) = ({p[0]!r}, {err[0]!r}), whose sum is not the exact product"
        )


def test_two_prod_is_exact_elementwise_where_only_some_factors_are_large() -> None:
    """The scaled redo is taken for the whole array once any entry needs it: the entries that
    did not need it (either factor small, or both) must stay exact too."""
    rng = np.random.default_rng(3)
    a = rng.uniform(1, 2, 12) * 2.0 ** rng.integers(-300, 300, 12)
    b = rng.uniform(1, 2, 12) * 2.0 ** rng.integers(-300, 300, 12)
    a[[2, 7]], b[[2, 7]] = [1.7e308, -1.1e308], [1e-5, 0.3]
    p, err = two_prod(a, b)
    for i in range(a.size):
        assert Fraction(float(p[i])) + Fraction(float(err[i])) == _exact(a[i], b[i]), (
            f"two_prod(a, b)[{i}] = ({p[i]!r}, {err[i]!r}), but a b = {a[i]!r} * {b[i]!r} "
            "exactly is not their sum"
        )


SQUARED = [BELOW_SQRT_MAX, -BELOW_SQRT_MAX, 2.0**511 * 1.41, 1 + 2**-30, 3e-130]


@pytest.mark.parametrize("a", SQUARED)
def test_two_square_is_exact_up_to_the_largest_square(a: float) -> None:
    """a^2 = p + err exactly while a^2 is a normal double (and err too: a^2 > 2^-916); just below
    2^512, where a_hi a_hi overflows, two_square hands over to two_prod."""
    p, err = two_square(np.array([a]))
    assert p[0] == a * a, f"two_square({a!r}): p = {p[0]!r}, but should be {a * a!r}"
    assert Fraction(float(p[0])) + Fraction(float(err[0])) == _exact(a, a), (
        f"two_square({a!r}) = ({p[0]!r}, {err[0]!r}), whose sum is not a^2 exactly"
    )
