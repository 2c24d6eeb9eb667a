"""What the exact witness returns: each quantity as balls with its correctly rounded float64
values (ExactArray), the verdict of a comparison decided on the balls (Within), and everything
one backprop computes, keyed by the layer number (ExactBackprop)."""

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from flint import arb

from verification.oracles.exact.balls import Balls
from verification.oracles.exact.precision import (
    FLOAT64_TINY_EXPONENT,
    round_balls,
    round_endpoints,
    working_precision,
)

QUANTITIES = ("E", "z", "h", "delta", "grad_W", "grad_b")
"""The quantities of an ExactBackprop, as the `need` argument of exact_backprop names them."""

GRADIENTS = ("grad_W", "grad_b")
"""What a gate needs resolved: exact_backprop(..., need=GRADIENTS) skips the rest."""


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
            return round_balls(self.balls)

    @property
    def value(self) -> np.ndarray:
        """float64 array: the correctly rounded exact value where resolved (a zero's sign as
        verification.oracles.exact.precision says), elsewhere the double nearest the ball's
        midpoint (a best guess, not a certified value)."""
        return self._rounded[0]

    @property
    def resolved(self) -> np.ndarray:
        """Boolean array: True where the ball rounds to one float64 (value is exact there)."""
        return self._rounded[1]

    @cached_property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 (lower, upper) enclosing every ball, rounded outward."""
        with working_precision(self.bits):
            lower, upper = round_endpoints(self.balls)
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
