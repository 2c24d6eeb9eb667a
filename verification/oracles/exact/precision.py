"""The precision policy of the exact witness, and the rounding of a ball to float64.

The policy: the first working precision START_BITS and the last MAX_BITS of the Ziv loop
(verification.oracles.exact.network), and working_precision, which sets python-flint's.

Correct rounding. A ball rounds to one float64 when both of its endpoints do (round to
nearest, ties to even, subnormals included): rounding is monotone, so every point between
them, the exact value among them, rounds to that same double. How the endpoints are rounded:
see _nearest_float64 (python-flint's float() on an exact ball, checked at import against the
exact integer conversion dyadic_to_float64, which serves if the check fails).

The sign of a zero. Doubles are compared as values, -0.0 == +0.0: a ball around 0 inside
(-2^-1075, 2^-1075), whose ends round to -0.0 and +0.0, is resolved to the value 0, returned
as +0.0; its sign is not certified. An exact zero (radius 0) is +0.0, as x - x is in IEEE
arithmetic; a ball wholly below 0 that rounds to zero is -0.0, its correct rounding. Requiring
the signs to agree as well would leave every exact 0 reached through inexact terms (equal rows
of h^{l-1} whose deltas cancel: 3 of 1,000 gate cases) unresolved at every precision: the
whole Ziv loop spent to certify a sign that no comparison of values uses.
"""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from flint import arb, ctx

from verification.oracles.exact.balls import Balls

# --- the precision policy --------------------------------------------------------------------

START_BITS = 128
"""The first working precision. 53 bits would only hold the inputs. At 64 bits, 83% of the
gate's default cases leave some entry unresolved (measured over 200 cases): the radii grow
through six layers of sums and elementary functions to within a few bits of float64's, and an
entry then resolves only if it is far from a rounding boundary. At 128 bits 96.8% of 1,000
cases resolve at once, for a third more time per run than at 64."""

MAX_BITS = 4096
"""The last precision of the Ziv loop. An entry needs more than START_BITS where its exact value
is a float64 rounding boundary (a tie, made of sums of doubles) perturbed by an exponentially
small term, or an exact 0 reached through inexact terms (it resolves once its ball is inside
(-2^-1075, 2^-1075), at 2048 bits). A saturated tanh is -1 + 2 e^(2z): at z = -500, the
gate's deepest saturation, it perturbs a tie by 2^-1443 of it, resolved at 2048 bits; 4096
bits cover saturations to |z| ~ 1400 (tanh) or 2800 (sigmoid). Measured over 1,000 gate
cases: 968 resolve at 128 bits, 7 at 256, 2 at 512, 4 at 1024, 8 at 2048, 2 at 4096. The
other 9 are large_logits cases: a logit gap G perturbs a tie by about e^-G, out of reach of
4096 bits once G passes 2800, and the gate draws gaps up to 1e6 (2^-1.4e6). Their entries are
reported unresolved with balls of radius ~2^-4000, which decide any comparison with an
allowance. One run at 4096 bits costs about 18 times one at 128 (the largest gate case: 150 ms
against 8 ms), and the loop's six runs together about 34 times."""


@contextmanager
def working_precision(bits: int) -> Iterator[None]:
    """Run the block with python-flint's precision at `bits`, restoring the previous one."""
    saved = ctx.prec
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec = saved


# --- rounding a ball to float64 --------------------------------------------------------------

FLOAT64_MAX_EXPONENT = 1024  # every finite double is below 2^1024
FLOAT64_TINY_EXPONENT = -1074  # the least subnormal is 2^-1074


def dyadic_to_float64(man: int, exp: int) -> float:
    """man 2^exp rounded to the nearest float64, ties to even, exactly as IEEE 754 does.

    Python's int -> float and int / int conversions round correctly, subnormals included
    (CPython's long_true_divide is built to); what overflows becomes +-inf, the IEEE result of
    rounding a value at or past 2^1024 - 2^970, and what is below half the least subnormal
    becomes a zero of the sign of man.
    """
    if man == 0:
        return 0.0
    sign = -1.0 if man < 0 else 1.0  # not math.copysign(1, man): man may exceed every double
    top = abs(man).bit_length() + exp  # 2^(top - 1) <= |man 2^exp| < 2^top
    if top < FLOAT64_TINY_EXPONENT:  # |value| < 2^-1075: below half the least subnormal
        return sign * 0.0
    if top > FLOAT64_MAX_EXPONENT + 1:  # |value| >= 2^1025: past every double and the tie
        return sign * math.inf
    try:
        return float(man << exp) if exp >= 0 else man / (1 << -exp)
    except OverflowError:  # rounds to 2^1024 or more
        return sign * math.inf


def _exact_float(point: arb) -> float:
    """An exact ball (radius 0) rounded to the nearest float64 through dyadic_to_float64."""
    man, exp = point.man_exp()
    return dyadic_to_float64(int(man), int(exp))


def _float_conversion_rounds_to_nearest() -> bool:
    """Does float() of an exact arb round to nearest, ties to even, like dyadic_to_float64?

    python-flint's float(arb) calls arf_get_d on the midpoint, whose rounding mode has changed
    between versions (towards zero in old ones, to nearest since); FLINT documents arf_get_d as
    correctly rounded in the subnormal and overflow ranges. Checked on the hard cases: ties
    and near-ties in the normal and subnormal ranges and at overflow, both signs.
    """
    two = arb(2)
    cases = [
        (1, 0),
        (2**53 + 1, -53),  # 1 + 2^-53: the tie between 1 and 1 + 2^-52, to the even 1
        (2**53 + 3, -53),  # a tie to the even 1 + 2^-51
        (2**60 + 2**7 + 1, -60),  # just above a tie
        (2**60 + 2**7 - 1, -60),  # just below it
        (1, -1075),  # half the least subnormal: a tie, to +0
        (3, -1075),  # a subnormal tie, to the even 2^-1073
        (2**40 + 1, -1115),  # just above half the least subnormal
        (1, -1080),  # far below it
        (2**53 - 1, 971),  # the largest double
        (2**54 - 1, 970),  # the tie 2^1024 - 2^970: to inf
        (2**124 - 2**70 - 1, 900),  # just below that tie: the largest double
    ]
    with working_precision(128):
        for man, exp in cases:
            for sign in (1, -1):
                point = arb(sign * man) * two**exp
                got, want = float(point), dyadic_to_float64(sign * man, exp)
                if got != want or math.copysign(1, got) != math.copysign(1, want):
                    return False
    return True


_nearest_float64: Callable[[arb], float] = (
    float if _float_conversion_rounds_to_nearest() else _exact_float
)
"""An exact ball rounded to the nearest float64: float() if python-flint's passes the check
above (rounding a ball's two endpoints then takes 0.6 us instead of 3.3 us), else
dyadic_to_float64."""


def round_ball(ball: arb) -> float | None:
    """The float64 every point of `ball` rounds to (to nearest, ties to even), or None.

    The endpoints are arb's outward-rounded lower() and upper() at the current precision: if
    both round to one double, so does every point between them. Doubles are compared as
    values, -0.0 == +0.0 (the module docstring says which zero comes back). None if they
    round apart (or the ball is not finite).
    """
    lo, hi = _nearest_float64(ball.lower()), _nearest_float64(ball.upper())
    return hi if lo == hi else None


def round_endpoints(balls: Balls) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): both endpoints of every ball, each rounded to the nearest float64."""
    flat = balls.ravel()
    lo = np.fromiter((_nearest_float64(t.lower()) for t in flat), np.float64, flat.size)
    hi = np.fromiter((_nearest_float64(t.upper()) for t in flat), np.float64, flat.size)
    return lo.reshape(balls.shape), hi.reshape(balls.shape)


def round_balls(balls: Balls) -> tuple[np.ndarray, np.ndarray]:
    """(value, resolved): round_ball on every ball, at the current precision.

    value: float64 array, the double every point of the ball rounds to where resolved (True),
    elsewhere the double nearest the ball's midpoint (a best guess, not a certified value).
    """
    lo, value = round_endpoints(balls)
    resolved = lo == value  # as values: -0.0 == +0.0 (module docstring)
    for index, rounds_to_one in np.ndenumerate(resolved):
        if not rounds_to_one:
            value[index] = _nearest_float64(balls[index].mid())  # a best guess only
    return value, resolved
