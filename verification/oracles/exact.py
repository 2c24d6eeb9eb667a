"""The exact witness: backprop in ball arithmetic, every entry correctly rounded to float64.

For one case (arch, params, x, y: docs/contract.md, section 4) this module computes E and, for
every layer l = 1..L, z^l, h^l, delta^l, dE/dW^l and dE/db^l from the float64 inputs exactly as
given, in the seed's equations,

    forward    z^l = h^{l-1} W^l + b^l,  h^l = phi_l(z^l)
    loss       E = (1/n) sum_i L(h^L_i, y_i),  g = dE/dh^L
    backward   delta^L = phi_L'(z^L) * g,  delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    gradients  dE/dW^l = (h^{l-1})^T delta^l,  dE/db^l = 1^T delta^l

with every real number held as a ball [m +/- r] (FLINT's Arb, through python-flint): a
midpoint and a radius such that the exact value provably lies inside. Matrix products are
arb_mat products; activations, their derivatives and the losses are Arb's elementary functions
(each proved to enclose its exact result). Nothing is approximated: no cut-off, no series
truncated by us, no float64 step.

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

The Ziv loop. The case is computed at START_BITS of working precision; if some entry that the
caller needs is not resolved, the whole case is computed again at twice the precision, up to
MAX_BITS. An entry still unresolved there is reported as such, with its ball: the gate can
still judge |got - exact| <= allowance on it rigorously (ExactArray.within).

Where the formulas differ from the textbook, they avoid a cancellation that no affordable
precision would resolve (1 + tanh u in gelu_tanh at u = -1000 needs 2900 bits; sigma(h) - 1
at h = 1e6 needs 1.4 million): sigma'(t) = 1 / (2 + 2 cosh t), tanh'(t) = sech^2 t,
gelu_tanh(z) = z sigma(v) with v = 2 sqrt(2/pi) (z + 0.044715 z^3) (since 1 + tanh(v/2) =
2 sigma(v)), the binary cross-entropy as (1 - y) softplus(h) + y softplus(-h), and the
cross-entropy through the differences h_j - h_y of the logits.

The 1/n of the batch mean is applied last: backprop is linear in dE/dh^L, so the backward pass
carries n dE/dh^L, n delta^l, n dE/dW^l and n dE/db^l, each divided by n at the end. Where the
arithmetic is exact (relu, leaky_relu, identity and squared_error on dyadic data, as in the
gate's kinks regime) a sum D is an exact ball, and so is D / n whenever it is a dyadic number:
a float64 tie then rounds to even. Divided first, the same value would come as a sum of
inexact terms D_i / n whose ball straddles the tie at every precision (4 of 1,000 gate cases).

Kinks (docs/contract.md, section 2). A relu, leaky_relu or elu unit whose z is exactly 0 (a ball of
radius 0 at 0) takes the contract's slope: relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1.
A ball that contains 0 but is not exactly 0 takes a ball holding the slopes of both sides
(relu: [0, 1]; leaky_relu: [0.01, 1]): every quantity that depends on that slope by more than
its rounding then stays unresolved, and none is guessed; one that provably rounds the same for
either slope is resolved, rightly. elu' is continuous at 0 (only elu'' jumps), so its ball
there is narrow, [e^-r, 1], and resolves like any smooth unit's.

The leaky slope is the double 0.01 (0.01000000000000000020816681711721685...), not the real
1/100: it is the slope every float64 implementation multiplies by (PyTorch's
negative_slope=0.01 and the reference's LEAKY_SLOPE are that double), so the witness certifies
the function they are asked to compute. The real 1/100 would move every leaky gradient by a
relative 2.1e-17, a tenth to a fifth of an ULP, and flip some roundings for no fault of
theirs. The constants of gelu_tanh, on the other hand, are the real sqrt(2/pi) and 0.044715
(docs/contract.md, section 2), enclosed in balls at the working precision.

Limits. python-flint's working precision is process-global: do not call exact_backprop from two
threads at once (the gate runs cases in processes). The cost per gate case is 0.8 ms median,
15 ms at the 99th percentile with need=GRADIENTS (1.4 ms and 35 ms with every quantity),
6 to 10 times reference.gradients (benchmarks/bench_exact_witness.py), most of it Python calls
per entry. An entry that never resolves (a tie perturbed by e^-1e6; a relu unit exactly at its
kink through inexact terms, e.g. fed tanh(a) - tanh(a)) costs a run at every precision up to
MAX_BITS, about 34 times a plain run.

This module imports NumPy and python-flint only, and reads arch.sizes, arch.activations and
arch.loss: it is an oracle independent of the reference.
"""

import math
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Protocol, TypeAlias

import numpy as np
from flint import arb, arb_mat, ctx

Balls: TypeAlias = np.ndarray
"""A NumPy array of dtype object whose entries are arb balls."""

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

QUANTITIES = ("E", "z", "h", "delta", "grad_W", "grad_b")
"""The quantities of an ExactBackprop, as the `need` argument of exact_backprop names them."""

GRADIENTS = ("grad_W", "grad_b")
"""What a gate needs resolved: exact_backprop(..., need=GRADIENTS) skips the rest."""

LEAKY_SLOPE = 0.01
"""The negative slope of leaky_relu: the double nearest 1/100, taken exactly (module docstring)."""

GELU_CUBIC = "8943/200000"
"""0.044715 of gelu_tanh, as an exact rational (the real constant, not its double)."""


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


def _round_all(balls: Balls) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): both endpoints of every ball, each rounded to the nearest float64."""
    flat = balls.ravel()
    lo = np.fromiter((_nearest_float64(t.lower()) for t in flat), np.float64, flat.size)
    hi = np.fromiter((_nearest_float64(t.upper()) for t in flat), np.float64, flat.size)
    return lo.reshape(balls.shape), hi.reshape(balls.shape)


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Within:
    """The verdict of |got - exact| <= allowance, entrywise, decided on the ball.

    inside: proved, for every point of the ball; outside: proved false for every point (a NaN
    or an infinity in got is outside); neither: the ball straddles the allowance (undecided).
    """

    inside: np.ndarray
    outside: np.ndarray

    @property
    def undecided(self) -> np.ndarray:
        return ~(self.inside | self.outside)


@dataclass(frozen=True, eq=False)
class ExactArray:
    """One quantity (E, z^l, h^l, delta^l, dE/dW^l or dE/db^l) as balls, and its float64 values.

    name: what it is, e.g. "dE/dW^2"; balls: an object array of arb, each enclosing the exact
    entry; bits: the working precision they were computed at (every later operation on them
    runs at it). The float64 views are computed on first use.
    """

    name: str
    balls: Balls
    bits: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.balls.shape

    @cached_property
    def _rounded(self) -> tuple[np.ndarray, np.ndarray]:
        with working_precision(self.bits):
            lo, value = _round_all(self.balls)
            resolved = lo == value  # as values: -0.0 == +0.0 (module docstring)
            for index in _where(~resolved):
                value[index] = _nearest_float64(self.balls[index].mid())  # a best guess only
        return value, resolved

    @property
    def value(self) -> np.ndarray:
        """float64 array: the correctly rounded exact value where resolved (a zero's sign as
        the module docstring says), elsewhere the double nearest the ball's midpoint (a best
        guess, not a certified value)."""
        return self._rounded[0]

    @property
    def resolved(self) -> np.ndarray:
        """Boolean array: True where the ball rounds to one float64 (value is exact there)."""
        return self._rounded[1]

    @cached_property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 (lower, upper) enclosing every ball, rounded outward."""
        with working_precision(self.bits):
            lower, upper = _round_all(self.balls)
            for index, t in np.ndenumerate(self.balls):
                if arb(lower[index]) > t.lower():  # rounded up past the exact bound
                    lower[index] = np.nextafter(lower[index], -np.inf)
                if arb(upper[index]) < t.upper():
                    upper[index] = np.nextafter(upper[index], np.inf)
        return lower, upper

    @property
    def lower(self) -> np.ndarray:
        """float64 array of lower bounds: every exact entry is >= its lower bound."""
        return self._bounds[0]

    @property
    def upper(self) -> np.ndarray:
        """float64 array of upper bounds: every exact entry is <= its upper bound."""
        return self._bounds[1]

    def ball(self, index: tuple[int, ...] = ()) -> arb:
        """The arb ball of one entry (index () for the scalar E)."""
        return self.balls[index]

    def describe(self, index: tuple[int, ...] = ()) -> str:
        """'dE/dW^2[0, 1] in [-0.0123... +/- 4.1e-25] (resolved: -0.012...)', for reports."""
        t = self.balls[index]
        with working_precision(self.bits):
            text = t.str(20, radius=True)
        where = f"[{', '.join(map(str, index))}]" if index else ""
        state = (
            f"resolved: {self.value[index]!r}" if self.resolved[index] else "unresolved"
        ) + f" at {self.bits} bits"
        return f"{self.name}{where} in {text} ({state})"

    def ulp_distance(self, got: np.ndarray) -> np.ndarray:
        """|got - exact| in ULPs of the exact value, entrywise: float64 array of upper bounds.

        ulp(v) = 2^(max(e, -1022) - 52) with 2^e <= |v| < 2^(e+1): the spacing of the doubles
        in the binade of the exact value v (2^-1074 at v = 0). Over a ball, the largest
        |got - v| and the least ulp(v) are taken, so the figure bounds the exact one from
        above (up to its own rounding to float64), by at most the ball's diameter in ULPs
        where the ball lies in one binade (2^-60 ULP or less for a ball at START_BITS). NaN or
        infinity in got gives inf.
        """
        got = self._check_got(got)
        out = np.empty(self.shape, dtype=np.float64)
        with working_precision(self.bits):
            for index, t in np.ndenumerate(self.balls):
                g = got[index]
                if not math.isfinite(g):
                    out[index] = math.inf
                    continue
                gap = abs(arb(g) - t).upper()
                out[index] = float(gap * arb(2) ** -_ulp_exponent(t))
        return out

    def within(self, got: np.ndarray, allowance: np.ndarray | float) -> Within:
        """Is |got - exact| <= allowance, entrywise? Decided on the ball, not the rounded value.

        allowance: float64, broadcast to the shape of this quantity, each >= 0.
        """
        got = self._check_got(got)
        allow = np.broadcast_to(np.asarray(allowance, dtype=np.float64), self.shape)
        if (allow < 0).any() or np.isnan(allow).any():
            raise ValueError(f"{self.name}: allowance should be >= 0 everywhere")
        inside = np.zeros(self.shape, dtype=bool)
        outside = np.zeros(self.shape, dtype=bool)
        with working_precision(self.bits):
            for index, t in np.ndenumerate(self.balls):
                g = got[index]
                if not math.isfinite(g):
                    outside[index] = True
                    continue
                gap, a = abs(arb(g) - t), arb(float(allow[index]))
                inside[index] = bool(gap <= a)  # every point of the ball within
                outside[index] = bool(gap > a)  # no point of the ball within
        return Within(inside, outside)

    def _check_got(self, got: np.ndarray) -> np.ndarray:
        got = np.asarray(got)
        if got.shape != self.shape:
            raise ValueError(f"{self.name}: got has shape {got.shape}, but should be {self.shape}")
        if got.dtype.kind not in "fiu":
            raise TypeError(f"{self.name}: got has dtype {got.dtype}, but should be real")
        return got.astype(np.float64)


def _where(mask: np.ndarray) -> list[tuple[int, ...]]:
    """The indices where mask is True (() for a true 0-d mask)."""
    return [index for index in np.ndindex(mask.shape) if mask[index]]


def _ulp_exponent(t: arb) -> int:
    """log2 of the least ulp(v) over the ball t (ExactArray.ulp_distance)."""
    least = t.abs_lower()  # an exact lower bound of |v| over the ball
    if least.is_zero():
        return FLOAT64_TINY_EXPONENT
    man, exp = least.man_exp()
    e = int(man).bit_length() - 1 + int(exp)  # 2^e <= least < 2^(e+1)
    return max(e, -1022) - 52


@dataclass(frozen=True, eq=False)
class ExactBackprop:
    """Everything one backprop computes, exactly, keyed by the layer number l as in the seed.

    E: the error (shape ()); h[l] for l = 0..L (h[0] = x); z[l], delta[l] (n, n_l);
    grad_W[l] (n_{l-1}, n_l); grad_b[l] (n_l,), for l = 1..L. Each is an ExactArray.
    bits: the working precision of the last run; bits_tried: every precision run, in order;
    need: the quantities the Ziv loop had to resolve.
    """

    E: ExactArray
    z: dict[int, ExactArray]
    h: dict[int, ExactArray]
    delta: dict[int, ExactArray]
    grad_W: dict[int, ExactArray]
    grad_b: dict[int, ExactArray]
    bits: int
    bits_tried: tuple[int, ...]
    need: tuple[str, ...]

    @property
    def grads(self) -> list[tuple[ExactArray, ExactArray]]:
        """[(dE/dW^l, dE/db^l) for l = 1..L], in the order of docs/contract.md, section 4."""
        return [(self.grad_W[l], self.grad_b[l]) for l in sorted(self.grad_W)]

    def arrays(self, names: Collection[str] = QUANTITIES) -> Iterator[ExactArray]:
        """Every ExactArray of the named quantities (E first, then layer by layer)."""
        for name in QUANTITIES:
            if name not in names:
                continue
            if name == "E":
                yield self.E
            else:
                by_layer: dict[int, ExactArray] = getattr(self, name)
                yield from (by_layer[l] for l in sorted(by_layer))

    @property
    def resolved(self) -> bool:
        """True if every entry of the needed quantities rounds to one float64."""
        return all(a.resolved.all() for a in self.arrays(self.need))

    def unresolved(self, names: Collection[str] = QUANTITIES) -> list[str]:
        """One line per unresolved entry of the named quantities, with its ball."""
        return [a.describe(index) for a in self.arrays(names) for index in _where(~a.resolved)]


# --- the activations in ball arithmetic ------------------------------------------------------


@dataclass(frozen=True)
class BallActivation:
    """phi and dphi = phi' of one activation, each on one arb ball t, enclosing the exact
    image {phi(s) : s in t} (and {phi'(s)}); dphi is written in closed form."""

    name: str
    phi: Callable[[arb], arb]
    dphi: Callable[[arb], arb]


ONE = arb(1)
EITHER_RELU_SLOPE = arb(0.5, 0.5)  # [0, 1]: relu' on a ball around its kink, either side
EITHER_LEAKY_SLOPE = arb(LEAKY_SLOPE).union(ONE)  # about [0.01, 1]: leaky_relu' across 0


def _at_kink(t: arb) -> bool:
    """t is exactly 0: a ball of radius 0 at the kink, where the contract's convention holds."""
    return t.is_zero()


def _identity(t: arb) -> arb:
    return t


def _didentity(t: arb) -> arb:
    return ONE


def _sigmoid(t: arb) -> arb:
    """sigma(t) = 1 / (1 + e^-t)."""
    return 1 / (1 + (-t).exp())


def _dsigmoid(t: arb) -> arb:
    """sigma'(t) = sigma(t) sigma(-t) = 1 / (2 + e^t + e^-t) = 1 / (2 + 2 cosh t)."""
    return 1 / (2 + 2 * t.cosh())


def _tanh(t: arb) -> arb:
    return t.tanh()


def _dtanh(t: arb) -> arb:
    """tanh'(t) = sech^2 t (1 - tanh^2 t would cancel in the tails)."""
    return t.sech() ** 2


def _relu(t: arb) -> arb:
    """max(t, 0): arb's nonnegative_part encloses {max(s, 0) : s in t}, kink included (an
    exact 0 stays an exact 0)."""
    return t.nonnegative_part()


def _drelu(t: arb) -> arb:
    """1 if t > 0, 0 if t < 0 or t is exactly 0 (relu'(0) = 0), [0, 1] if t straddles 0."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return arb(0)
    return EITHER_RELU_SLOPE


def _leaky_relu(t: arb) -> arb:
    """t if t > 0 else 0.01 t; across 0 a ball holding both branches."""
    if t > 0 or _at_kink(t):
        return t
    if t < 0:
        return LEAKY_SLOPE * t
    return (LEAKY_SLOPE * t).union(t.nonnegative_part())


def _dleaky_relu(t: arb) -> arb:
    """1 if t > 0, 0.01 if t < 0 or exactly 0 (leaky_relu'(0) = 0.01), [0.01, 1] across 0."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return arb(LEAKY_SLOPE)
    return EITHER_LEAKY_SLOPE


def _elu(t: arb) -> arb:
    """t if t > 0 else e^t - 1; across 0 a ball holding both branches."""
    if t > 0:
        return t
    if t < 0 or _at_kink(t):
        return t.expm1()
    return t.expm1().union(t.nonnegative_part())


def _delu(t: arb) -> arb:
    """1 if t > 0, e^t if t <= 0 (elu'(0) = e^0 = 1); across 0 the ball of both, [e^-r, 1]."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return t.exp()
    return t.exp().union(ONE)


def _softplus(t: arb) -> arb:
    """log(1 + e^t), exactly (no cut-off): log1p keeps its accuracy where e^t is tiny."""
    return t.exp().log1p()


@lru_cache(maxsize=16)
def _gelu_constants_at(bits: int) -> tuple[arb, arb]:
    with working_precision(bits):
        return (8 / arb.pi()).sqrt(), arb(GELU_CUBIC)


def _gelu_constants() -> tuple[arb, arb]:
    """(C, A): balls of C = 2 sqrt(2/pi) and A = 0.044715 at the current precision."""
    return _gelu_constants_at(ctx.prec)


def _gelu_v(t: arb, C: arb, A: arb) -> arb:
    """v = 2 sqrt(2/pi) (t + 0.044715 t^3), twice the argument of the tanh."""
    return C * (t + A * t**3)


def _gelu_tanh(t: arb) -> arb:
    """t/2 (1 + tanh(v/2)) = t sigma(v), since 1 + tanh(v/2) = 2 sigma(v)."""
    C, A = _gelu_constants()
    return t * _sigmoid(_gelu_v(t, C, A))


def _dgelu_tanh(t: arb) -> arb:
    """phi'(t) = sigma(v) + t v'(t) sigma(v) sigma(-v) = sigma(v) (1 + w sigma(-v)),
    w = t v'(t) = C (t + 3 A t^3); sigma(-v) is computed, not 1 - sigma(v), which would cancel."""
    C, A = _gelu_constants()
    v = _gelu_v(t, C, A)
    w = C * (t + 3 * A * t**3)
    return _sigmoid(v) * (1 + w * _sigmoid(-v))


ACTIVATIONS: dict[str, BallActivation] = {
    a.name: a
    for a in (
        BallActivation("identity", _identity, _didentity),
        BallActivation("sigmoid", _sigmoid, _dsigmoid),
        BallActivation("tanh", _tanh, _dtanh),
        BallActivation("relu", _relu, _drelu),
        BallActivation("leaky_relu", _leaky_relu, _dleaky_relu),
        BallActivation("softplus", _softplus, _sigmoid),
        BallActivation("elu", _elu, _delu),
        BallActivation("gelu_tanh", _gelu_tanh, _dgelu_tanh),
    )
}
"""Each activation of docs/contract.md, section 2 in ball arithmetic (softplus' = sigma)."""


def _elementwise(f: Callable[[arb], arb], balls: Balls) -> Balls:
    """f on every ball, as an object array of the same shape."""
    return np.frompyfunc(f, 1, 1)(balls)


# --- the losses in ball arithmetic -----------------------------------------------------------


def _squared_error(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_i 1/2 sum_k (h_ik - y_ik)^2 and n dE/dh^L = h^L - y.

    Shapes: h (n, n_L), y (n, n_L) -> (scalar, (n, n_L)).
    """
    d = h - _exact_balls(y)
    return _sum(d * d) / 2, d


def _cross_entropy(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_i -log softmax(h_i)_{y_i} and n dE/dh^L = softmax(h^L) - onehot(y).

    Through the differences d_ij = h_ij - h_{i,y_i} and S_i = sum_{j != y_i} e^{d_ij}:
    -log softmax(h_i)_{y_i} = log1p(S_i), softmax(h_i)_j = e^{d_ij} / (1 + S_i) for j != y_i,
    and softmax(h_i)_{y_i} - 1 = -S_i / (1 + S_i), with no cancellation anywhere.
    Shapes: h (n, n_L), y (n,) integer labels -> (scalar, (n, n_L)).
    """
    width = h.shape[1]
    g = np.empty(h.shape, dtype=object)
    losses = []
    for i, label in enumerate(int(c) for c in y):
        e = [(h[i, j] - h[i, label]).exp() for j in range(width)]
        S = _sum_list([e[j] for j in range(width) if j != label])
        total = 1 + S
        losses.append(S.log1p())
        for j in range(width):
            g[i, j] = (-S if j == label else e[j]) / total
    return _sum_list(losses), g


def _binary_cross_entropy(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_ik softplus(h_ik) - y_ik h_ik and n dE/dh^L = sigma(h^L) - y.

    As (1 - y) softplus(h) + y softplus(-h) (softplus(h) - h = softplus(-h)) and
    (1 - y) sigma(h) - y sigma(-h): a sum of nonnegative terms, and a difference that cancels
    only where the exact gradient is small against sigma(h) itself.
    Shapes: h (n, n_L), y (n, n_L) in [0, 1] -> (scalar, (n, n_L)).
    """
    Y = _exact_balls(y)
    not_Y = _elementwise(lambda t: 1 - t, Y)
    per_entry = not_Y * _elementwise(_softplus, h) + Y * _elementwise(_softplus, -h)
    g = not_Y * _elementwise(_sigmoid, h) - Y * _elementwise(_sigmoid, -h)
    return _sum(per_entry), g


LOSSES: dict[str, Callable[[Balls, np.ndarray], tuple[arb, Balls]]] = {
    "squared_error": _squared_error,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}
"""Each loss (docs/contract.md, section 3) in ball arithmetic: (h^L, y) -> (n E, n dE/dh^L),
the batch sums; the 1/n of the batch mean is applied when the results are built (_backprop_at)."""


def _sum_list(terms: Sequence[arb]) -> arb:
    total = arb(0)
    for t in terms:
        total += t
    return total


def _sum(balls: Balls) -> arb:
    return _sum_list(list(balls.ravel()))


# --- the equations in ball arithmetic --------------------------------------------------------


def _exact_balls(a: np.ndarray) -> Balls:
    """float64 array -> object array of exact balls (every double is exact in arb)."""
    out = np.empty(a.shape, dtype=object)
    for index, v in np.ndenumerate(a):
        out[index] = arb(float(v))
    return out


def _matrix(balls: Balls) -> arb_mat:
    return arb_mat(balls.tolist())


def _entries(m: arb_mat) -> Balls:
    out = np.empty((m.nrows(), m.ncols()), dtype=object)
    out[...] = m.tolist()
    return out


def pre_activation(h_prev: arb_mat, W: arb_mat, b: Balls) -> Balls:
    """z^l = h^{l-1} W^l + b^l.

    Shapes: h_prev (n, n_{l-1}), W (n_{l-1}, n_l), b (n_l,) -> (n, n_l).
    """
    return _entries(h_prev * W) + b


def activate(z: Balls, phi: Callable[[arb], arb]) -> Balls:
    """h^l = phi_l(z^l), elementwise. Shapes: z (n, n_l) -> (n, n_l)."""
    return _elementwise(phi, z)


def output_delta(z: Balls, dphi: Callable[[arb], arb], dE_dh: Balls) -> Balls:
    """delta^L = phi_L'(z^L) * dE/dh^L. Shapes: z (n, n_L), dE_dh (n, n_L) -> (n, n_L)."""
    return _elementwise(dphi, z) * dE_dh


def hidden_delta(delta_next: Balls, W_next: arb_mat, z: Balls, dphi: Callable[[arb], arb]) -> Balls:
    """delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T.

    Shapes: delta_next (n, n_{l+1}), W_next (n_l, n_{l+1}), z (n, n_l) -> (n, n_l).
    """
    return _elementwise(dphi, z) * _entries(_matrix(delta_next) * W_next.transpose())


def weight_gradient(h_prev: arb_mat, delta: Balls) -> Balls:
    """dE/dW^l = (h^{l-1})^T delta^l.

    Shapes: h_prev (n, n_{l-1}), delta (n, n_l) -> (n_{l-1}, n_l).
    """
    return _entries(h_prev.transpose() * _matrix(delta))


def bias_gradient(delta: Balls) -> Balls:
    """dE/db^l = 1^T delta^l, the column sums. Shapes: delta (n, n_l) -> (n_l,)."""
    n = delta.shape[0]
    return _entries(arb_mat([[1] * n]) * _matrix(delta))[0]


# --- the inputs --------------------------------------------------------------------------------


class ArchitectureLike(Protocol):
    """What the witness reads of an architecture (docs/contract.md, section 4)."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str


def _float_array(what: str, a: object, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{what} has type {kind}, but should be a float64 array of shape {shape}")
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}, but should be {shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} has NaN or infinite entries; the exact witness needs finite ones")
    return a


def _check_inputs(
    arch: ArchitectureLike, params: Sequence[Any], x: np.ndarray, y: np.ndarray
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """params, x and y checked against arch; ValueError or TypeError naming what is wrong."""
    sizes, names, loss = tuple(arch.sizes), tuple(arch.activations), arch.loss
    L = len(sizes) - 1
    if L < 1 or len(names) != L:
        raise ValueError(
            f"arch has sizes {sizes} and {len(names)} activations: need L >= 1 of each"
        )
    for l, name in enumerate(names, start=1):
        if name not in ACTIVATIONS:
            raise ValueError(
                f"layer {l}: activation {name!r} is unknown; valid: {', '.join(ACTIVATIONS)}"
            )
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is unknown; valid: {', '.join(LOSSES)}")
    if len(params) != L:
        raise ValueError(f"params has {len(params)} layers, but should have L = {L}")
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x should be a float64 array of shape (n, {sizes[0]}) with n >= 1")
    x = _float_array("x", x, (x.shape[0], sizes[0]))
    n = x.shape[0]
    checked = []
    for l, (W, b) in enumerate(params, start=1):  # params[l - 1] is layer l
        W = _float_array(f"layer {l}: W", W, (sizes[l - 1], sizes[l]))
        b = _float_array(f"layer {l}: b", b, (sizes[l],))
        checked.append((W, b))
    if loss == "cross_entropy":
        if not isinstance(y, np.ndarray) or y.shape != (n,) or y.dtype.kind not in "iu":
            raise ValueError(f"y should be an integer array of shape ({n},) for cross_entropy")
        if ((y < 0) | (y >= sizes[-1])).any():
            raise ValueError(f"y should hold labels in [0, {sizes[-1]}) for cross_entropy")
        return checked, x, y
    y = _float_array("y", y, (n, sizes[-1]))
    if loss == "binary_cross_entropy" and ((y < 0) | (y > 1)).any():
        raise ValueError("y should lie in [0, 1] for binary_cross_entropy")
    return checked, x, y


# --- one run at one precision, and the Ziv loop ----------------------------------------------


def _backprop_at(
    arch: ArchitectureLike,
    params: list[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    bits: int,
    bits_tried: tuple[int, ...],
    need: tuple[str, ...],
) -> ExactBackprop:
    """Every quantity of the seed in ball arithmetic at `bits` of working precision."""
    L = len(arch.sizes) - 1
    phi = {l: ACTIVATIONS[arch.activations[l - 1]] for l in range(1, L + 1)}
    with working_precision(bits):
        # layer l is params[l - 1]; every double is exact in arb
        W = {l: arb_mat(params[l - 1][0].tolist()) for l in range(1, L + 1)}
        b = {l: _exact_balls(params[l - 1][1]) for l in range(1, L + 1)}
        h_mat = {0: arb_mat(x.tolist())}
        h, z = {0: _exact_balls(x)}, {}
        for l in range(1, L + 1):
            z[l] = pre_activation(h_mat[l - 1], W[l], b[l])
            h[l] = activate(z[l], phi[l].phi)
            h_mat[l] = _matrix(h[l])
        # Backprop is linear in dE/dh^L, so the backward pass runs on the batch sums n dE/dh^L,
        # n delta^l, n dE/dW^l, n dE/db^l, and the 1/n of the batch mean comes last (module
        # docstring: a tie D / n stays exact)
        n_E, n_dE_dh = LOSSES[arch.loss](h[L], y)
        n_delta, n_grad_W, n_grad_b = {}, {}, {}
        n_delta[L] = output_delta(z[L], phi[L].dphi, n_dE_dh)
        for l in range(L, 0, -1):
            n_grad_W[l] = weight_gradient(h_mat[l - 1], n_delta[l])
            n_grad_b[l] = bias_gradient(n_delta[l])
            if l > 1:  # W^l carries delta^l back to layer l - 1
                n_delta[l - 1] = hidden_delta(n_delta[l], W[l], z[l - 1], phi[l - 1].dphi)
        n = x.shape[0]
        n_E_balls = np.empty((), dtype=object)
        n_E_balls[()] = n_E

        def mean(name: str, sums: Balls) -> ExactArray:
            """The batch mean sums / n (divided here, at this precision)."""
            balls = np.empty(sums.shape, dtype=object)
            balls[...] = sums / n
            return ExactArray(name, balls, bits)

        def means(name: str, sums: dict[int, Balls]) -> dict[int, ExactArray]:
            return {l: mean(f"{name}^{l}", sums[l]) for l in range(1, L + 1)}

        E = mean("E", n_E_balls)
        delta, grad_W, grad_b = (
            means("delta", n_delta),
            means("dE/dW", n_grad_W),
            means("dE/db", n_grad_b),
        )

    def exact(name: str, balls: dict[int, Balls], first: int = 1) -> dict[int, ExactArray]:
        return {l: ExactArray(f"{name}^{l}", balls[l], bits) for l in range(first, L + 1)}

    return ExactBackprop(
        E=E,
        z=exact("z", z),
        h=exact("h", h, first=0),
        delta=delta,
        grad_W=grad_W,
        grad_b=grad_b,
        bits=bits,
        bits_tried=bits_tried,
        need=need,
    )


def exact_backprop(
    arch: ArchitectureLike,
    params: Sequence[Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_bits: int = MAX_BITS,
    start_bits: int = START_BITS,
    need: Collection[str] = QUANTITIES,
) -> ExactBackprop:
    """E, z^l, h^l, delta^l, dE/dW^l, dE/db^l exactly: balls, and their correctly rounded float64.

    Runs the case at start_bits, then at twice the precision while an entry of a quantity in
    `need` does not round to one float64, up to max_bits (the Ziv loop of the module
    docstring). The result's .resolved says whether everything needed was resolved; each
    quantity's .resolved says which entries were. need=GRADIENTS is enough for a gate.
    """
    params, x, y = _check_inputs(arch, params, x, y)
    need = tuple(need)
    unknown = [name for name in need if name not in QUANTITIES]
    if unknown:
        raise ValueError(f"need names {unknown}, but valid quantities are {', '.join(QUANTITIES)}")
    if not 53 <= start_bits <= max_bits:
        raise ValueError(
            f"start_bits = {start_bits}, max_bits = {max_bits}, but should be 53 <= start_bits"
            " <= max_bits (53 bits hold the float64 inputs exactly)"
        )
    bits, tried = start_bits, (start_bits,)
    while True:
        result = _backprop_at(arch, params, x, y, bits, tried, need)
        if bits >= max_bits or result.resolved:
            return result
        bits = min(2 * bits, max_bits)
        tried = (*tried, bits)
