"""Backprop under a hypothesis: the seed's equations with one step changed, every quantity
carried with a bound on its rounding error.

A diagnosis is a hypothesis about what an implementation computed instead of the seed's
equations, e.g. "phi' taken at h^l instead of z^l". To test it, backprop is run again on the
case with that one step changed (`Hypothesis`, one overridable method per equation), and every
quantity is carried with a bound on the rounding error of any implementation that computes it:
the bounds of verification.oracles.tolerance, applied to the changed step as to the others.
With no step changed, the bounds are the allowance A itself (a test checks it).

The hypotheses themselves, one class per known bug, are in verification.judge.known_bugs.

A hypothesis explains what an implementation returned (`explains`) when

    1. it returned as many pairs as the hypothesis gives, each array of the same shape, or it
       raised the same exception (type and message) as the hypothesis does on the case;
    2. every entry lies within ALLOWANCES allowances of the hypothesis's value, the same test
       that judges a correct implementation against torch.autograd, with the allowance of the
       changed computation (NaN and Inf only where the hypothesis has them); and
    3. the hypothesis is told apart from the seed's gradient: in some entry the two differ by
       more than the sum of both their tolerances, so that no result lies within both. A
       correct implementation (within ALLOWANCES allowances of the seed's gradient everywhere)
       is therefore never explained by any hypothesis.

Nothing here is tuned: the tolerance of every comparison is the rounding-error bound of the
computation it stands for.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

import reference
from reference.types import Array
from verification.cases import Case
from verification.judge.returned import Returned
from verification.judge.values import ALLOWANCES
from verification.oracles.precision import DIVIDE_BY_N_ROUNDINGS, gamma, precision_of
from verification.oracles.tolerance import (
    _cast_error,  # the error of storing float64 inputs in the implementation's format
    activation_bound,
    error_bounds,
    loss_gradient_bound,
    product_bound,
    scaled_product_bound,
)

# --- a value and its bound ------------------------------------------------------------------


@dataclass(frozen=True)
class Bounded:
    """A computed array and a bound on its rounding error, entrywise (the same shape)."""

    value: Array
    error: Array


def product(A: Bounded, B: Bounded, precision) -> Bounded:
    """A B and its bound (tolerance.product_bound), k = the length of the sums.

    Shapes: A (n, k), B (k, m) -> (n, m); 1-D operands as numpy's matmul takes them.
    """
    value = A.value @ B.value  # first, so that a shape error is numpy's own message
    k = A.value.shape[-1]
    return Bounded(value, product_bound(A.value, A.error, B.value, B.error, k, precision))


def scaled_product(s: Bounded, r: Bounded, precision) -> Bounded:
    """s * r entrywise (delta = phi'(z) * r) and its bound (tolerance.scaled_product_bound)."""
    value = s.value * r.value
    return Bounded(value, scaled_product_bound(s.value, s.error, r.value, r.error, precision))


def column_sums(delta: Bounded, precision, axis: int = 0) -> Bounded:
    """1^T delta (axis 0) or delta 1 (axis 1): a sum of k terms, any order."""
    k = delta.value.shape[axis]
    error = (
        delta.error.sum(axis=axis)
        + gamma(k, precision.u) * (np.abs(delta.value) + delta.error).sum(axis=axis)
        + k * precision.eta
    )
    return Bounded(delta.value.sum(axis=axis), error)


def scaled(a: Bounded, factor: float, precision) -> Bounded:
    """factor a, with the roundings of fl(factor) and of the product (DIVIDE_BY_N_ROUNDINGS)."""
    value = factor * a.value
    error = abs(factor) * a.error + DIVIDE_BY_N_ROUNDINGS * (precision.u * np.abs(value))
    return Bounded(value, error + DIVIDE_BY_N_ROUNDINGS * precision.eta)


# --- the case, once ---------------------------------------------------------------------------


class Trace:
    """A case's forward pass and its correct backward pass, every quantity with its bound,
    computed once and shared by every hypothesis.

    z[l], h[l] with bounds e_z[l], e_h[l] and the exactness flags of tolerance.error_bounds;
    slopes[l] = phi_l'(z^l) and g = dE/dh^L as Bounded; correct[l] = (dE/dW^l, dE/db^l) as
    Bounded, whose errors plus the floor are the allowance A.
    """

    def __init__(self, case: Case, dtype: str = "float64") -> None:
        arch, params, x, y = case.arch, case.params, case.x, case.y
        self.case = case
        self.precision = precision = precision_of(dtype)
        self.floor = precision.floor
        with np.errstate(all="ignore"):
            bp = reference.backprop(arch, params, x, y)
            bounds = error_bounds(arch, params, x, y, dtype=dtype, trace=bp)
            self.z, self.h = bp.z, bp.h
            self.e_z, self.e_h, self.exact_z = bounds.e_z, bounds.e_h, bounds.exact_z
            self.e_W = {l: _cast_error(params[l - 1][0], precision) for l in range(1, case.L + 1)}
            self.slopes: dict[int, Bounded] = {}
            self.exact_h = {0: self.e_h[0] == 0}
            for l in range(1, case.L + 1):
                activation = arch.activation(l)
                dphi = activation.dphi(self.z[l])
                unit = activation_bound(
                    activation.name, self.z[l], self.e_z[l], self.exact_z[l], dphi, precision
                )
                self.slopes[l] = Bounded(dphi, unit.e_dphi)
                self.exact_h[l] = unit.exact_h
            self.e_y = _cast_error(y, precision) if arch.loss != "cross_entropy" else 0.0
            self.g = self.loss_gradient_at(self.h[case.L])
            self.correct = {l: (dW, db) for l, dW, db in Hypothesis().layers(self)}
        self._agrees: dict[tuple[int, int], bool] = {}

    @property
    def L(self) -> int:
        return self.case.L

    @property
    def n(self) -> int:
        return self.case.n

    def h_bounded(self, l: int) -> Bounded:
        return Bounded(self.h[l], self.e_h[l])

    def W_bounded(self, l: int) -> Bounded:
        return Bounded(self.case.params[l - 1][0], self.e_W[l])

    def loss_gradient_at(self, h: Array) -> Bounded:
        """dE/dh^L at logits h (h^L, or clipped ones), with the bound of the loss's formula.

        The value is the reference's (tolerance.loss_gradient_bound returns cross_entropy's
        n dE/dh^L, before the 1/n, beside a bound of dE/dh^L itself).
        """
        case = self.case
        _, e_g = loss_gradient_bound(
            case.arch.loss, h, self.e_h[case.L], case.y, self.e_y, self.precision
        )
        return Bounded(case.arch.loss_function.grad(h, case.y), e_g)

    def agrees(self, returned: "ReturnedArrays", l: int) -> bool:
        """Whether layer l of `returned` lies within the tolerance of the seed's gradient
        (remembered per result: every hypothesis that leaves layer l alone asks it)."""
        key = (id(returned), l)
        if key not in self._agrees:
            got = returned[l - 1]
            self._agrees[key] = all(
                _within(g, e, self.floor) for g, e in zip(got, self.correct[l], strict=True)
            )
        return self._agrees[key]

    def allowance(self) -> list[tuple[Array, Array]]:
        """A = the bounds of the correct gradients plus the floor (tolerance.allowance)."""
        return [
            (dW.error + self.floor, db.error + self.floor)
            for dW, db in (self.correct[l] for l in range(1, self.L + 1))
        ]


# --- the hypotheses ---------------------------------------------------------------------------


class Hypothesis:
    """The seed's backprop with bounds, one method per equation; each hypothesis changes one.

    name: the diagnosis it stands for (verification.judge.diagnoses.DIAGNOSES); the base class
    is the seed's own computation.
    """

    name = "correct"

    def applies(self, t: Trace) -> bool:
        """Whether the changed step can change anything on this case at all."""
        return True

    def describe(self, t: Trace) -> str:
        """What the implementation did, in words, with the case's numbers."""
        return "the seed's equations"

    def first_changed(self, t: Trace) -> int:
        """The highest layer whose gradients the change can reach: above it, the hypothesis
        computes exactly what the seed's equations do (backprop runs from layer L down)."""
        return t.L

    def computation(self, t: Trace) -> tuple:
        """What it computes on this case: two hypotheses of one computation are one."""
        return (type(self).__name__, id(self))

    def describe_with(self, t: Trace, others: list["Hypothesis"]) -> str:
        """describe(t), where `others` of the same diagnosis explain the result as well (a
        variant may name the constants the case cannot choose between)."""
        return self.describe(t)

    # the steps, as the seed writes them

    def slope(self, t: Trace, l: int) -> Bounded:
        """phi_l'(z^l)."""
        return t.slopes[l]

    def loss_gradient(self, t: Trace) -> Bounded:
        """dE/dh^L."""
        return t.g

    def output_delta(self, t: Trace, g: Bounded) -> Bounded:
        """delta^L = phi_L'(z^L) * dE/dh^L."""
        return scaled_product(self.slope(t, t.L), g, t.precision)

    def carry(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        """delta^l (W^l)^T, the error carried from layer l down to layer l - 1."""
        W = t.W_bounded(l)
        return product(delta, Bounded(W.value.T, W.error.T), t.precision)

    def hidden_delta(self, t: Trace, r: Bounded, l: int) -> Bounded:
        """delta^l = phi_l'(z^l) * r, r = delta^{l+1} (W^{l+1})^T."""
        return scaled_product(self.slope(t, l), r, t.precision)

    def weight_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        """dE/dW^l = (h^{l-1})^T delta^l."""
        h = t.h_bounded(l - 1)
        return product(Bounded(h.value.T, h.error.T), delta, t.precision)

    def bias_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        """dE/db^l = 1^T delta^l."""
        return column_sums(delta, t.precision)

    def layers(self, t: Trace) -> Iterator[tuple[int, Bounded, Bounded]]:
        """(l, dE/dW^l, dE/db^l) from layer L down: backprop, under this hypothesis."""
        delta = self.output_delta(t, self.loss_gradient(t))
        for l in range(t.L, 0, -1):
            yield l, self.weight_gradient(t, delta, l), self.bias_gradient(t, delta, l)
            if l > 1:
                delta = self.hidden_delta(t, self.carry(t, delta, l), l - 1)

    # what it returns

    def length(self, t: Trace) -> int:
        """How many (dW, db) pairs it returns."""
        return t.L

    def pairs(self, t: Trace) -> Iterator[tuple[int, Bounded, Bounded]]:
        """(position 1.., dW, db) as returned, the last position first."""
        yield from self.layers(t)


# --- does a hypothesis explain what came back? ------------------------------------------------

ReturnedArrays = list[tuple[np.ndarray | None, np.ndarray | None]] | None
"""What the implementation returned, as float64 arrays where they came back with their values
(None where not), or None if it returned no list of pairs."""


def returned_arrays(returned: Returned | None, case: Case) -> ReturnedArrays:
    """The arrays of a Returned (judge.returned: plain data, whether it came from the isolated
    child or was described in this process) as float64, for the hypotheses: None for a result
    that is not a list of at most L + 1 items, and in place of an array whose values did not
    come back (too large for any hypothesis: returned.max_entries)."""
    if returned is None or returned.length is None or returned.length > case.L + 1:
        return None
    pairs: list[tuple[np.ndarray | None, np.ndarray | None]] = []
    for item in returned.items:
        if isinstance(item, str):
            pairs.append((None, None))
            continue
        W, b = (leaf.array.astype(np.float64) if leaf.array is not None else None for leaf in item)
        pairs.append((W, b))
    return pairs


def _within(got: np.ndarray | None, expected: Bounded, floor: float) -> bool:
    """Every entry of got within ALLOWANCES (error + floor) of expected, non-finite entries
    in the same places. (Called with numpy's warnings off.)"""
    if got is None or got.shape != np.shape(expected.value):
        return False
    close = np.abs(got - expected.value) <= ALLOWANCES * (expected.error + floor)
    if close.all():
        return True
    odd = ~np.isfinite(expected.value)
    return bool(odd.any() and np.array_equal(odd, ~np.isfinite(got)) and (close | odd).all())


def _apart(hypothesis: Bounded, correct: Bounded, floor: float) -> bool:
    """Some entry where the two differ by more than both tolerances together."""
    if np.shape(hypothesis.value) != np.shape(correct.value):
        return True
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(hypothesis.value - correct.value)
        both = ALLOWANCES * (hypothesis.error + correct.error + 2 * floor)
        apart = (gap > both) | (np.isfinite(correct.value) & ~np.isfinite(hypothesis.value))
    return bool(apart.any())


_BROADCAST = re.compile(r"shapes (\([^)]*\)) (\([^)]*\))")


def normalized_error(error: str) -> str:
    """An exception as "Type: message", with numpy's pair of broadcast shapes in a fixed order
    (a * b and b * a name them in either order)."""
    return _BROADCAST.sub(lambda m: "shapes " + " ".join(sorted(m.groups())), error.strip())


@dataclass(frozen=True)
class Explanation:
    """A hypothesis that explains a result; for an exception, the layer where the error
    starts: the highest where the re-run departs from the seed's gradients before it raises,
    else the layer whose computation raised."""

    hypothesis: Hypothesis
    starts: int | None = None


def explains(
    h: Hypothesis, t: Trace, returned: ReturnedArrays, error: str | None
) -> Explanation | None:
    """Whether hypothesis `h` explains what came back on the case of `t` (module docstring):
    `returned`, or the exception `error` ("Type: message") if the implementation raised."""
    at, departs = t.L, None  # the layer computed next; the highest that departs from the seed
    try:
        with np.errstate(all="ignore"):
            if error is not None:  # it raised: the hypothesis must raise the same
                for position, dW, db in h.pairs(t):
                    correct = t.correct[position]
                    if departs is None and (
                        _apart(dW, correct[0], t.floor) or _apart(db, correct[1], t.floor)
                    ):
                        departs = position
                    at = max(position - 1, 1)
                return None
            if returned is None or len(returned) != h.length(t):
                return None
            apart = h.length(t) != t.L
            top = h.first_changed(t) if h.length(t) == t.L else t.L
            if not all(t.agrees(returned, l) for l in range(t.L, top, -1)):
                return None  # above first_changed the hypothesis is the seed's computation
            for position, dW, db in h.pairs(t):
                if position > top:
                    continue
                for got, expected in zip(returned[position - 1], (dW, db), strict=True):
                    if not _within(got, expected, t.floor):
                        return None
                if not apart:
                    correct = t.correct[position]
                    apart = _apart(dW, correct[0], t.floor) or _apart(db, correct[1], t.floor)
            return Explanation(h) if apart else None
    except Exception as exc:  # the hypothesis itself fails on this case's shapes
        if error is None:
            return None
        raised = normalized_error(f"{type(exc).__name__}: {exc}")
        if raised != normalized_error(error):
            return None
        return Explanation(h, departs or at)


FLOAT32_TYPICAL = float(np.sqrt(2.0**-24 * 2.0**-53))
"""The median relative deviation that marks float32 arithmetic: halfway, on a log scale,
between float64's unit roundoff (2^-53, the scale of float64 noise) and float32's (2^-24):
about 2.4e-12. A float32 computation perturbs nearly every significant entry by 1e-9 or more
(the inputs alone are rounded to 2^-24); float64 noise, and small float64 bugs such as a clip at
1e-15, leave most significant entries within 1e-14."""


def float32_inside(t: Trace, returned: ReturnedArrays) -> bool:
    """The result of a correct computation in float32 arithmetic (verification.oracles.
    tolerance, `dtype`), which a float64 interface does not allow: every entry within
    A(float32) + A(float64) of the seed's gradient, some beyond ALLOWANCES A(float64), and
    either every entry a float32 number (a float32 result cast to float64), or the median
    relative deviation of the entries that float64 determines (beyond ALLOWANCES A(float64))
    at least FLOAT32_TYPICAL (float32 inside, float64 at the end)."""
    if returned is None or len(returned) != t.L or t.precision.name != "float64":
        return False
    arrays = [a for pair in returned for a in pair]
    if any(a is None or not np.isfinite(a).all() for a in arrays):
        return False
    loose = Trace(t.case, "float32")
    beyond, relative = False, []
    for l in range(1, t.L + 1):
        for got, tight, wide in zip(returned[l - 1], t.correct[l], loose.correct[l], strict=True):
            if got.shape != tight.value.shape:
                return False
            gap = np.abs(got - tight.value)
            if not np.all(gap <= wide.error + loose.floor + tight.error + t.floor):
                return False
            beyond |= bool((gap > ALLOWANCES * (tight.error + t.floor)).any())
            significant = np.abs(tight.value) > ALLOWANCES * (tight.error + t.floor)
            relative += list(gap[significant] / np.abs(tight.value[significant]))
    if not beyond:
        return False
    if all(np.array_equal(a.astype(np.float32).astype(np.float64), a) for a in arrays):
        return True
    return bool(relative) and float(np.median(relative)) >= FLOAT32_TYPICAL
