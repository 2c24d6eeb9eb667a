"""Backprop under a hypothesis: the seed's equations with one step changed, every quantity
carried with a bound on its rounding error.

A diagnosis is a hypothesis about what an implementation computed instead of the seed's
equations, e.g. "phi' taken at h^l instead of z^l". To test it, backprop is run again on the
case with that one step changed (`Hypothesis`, one overridable method per equation), and every
quantity is carried with a bound on the rounding error of any implementation that computes it:
the bounds of verification.oracles.tolerance, applied to the changed step as to the others.
With no step changed, the bounds are the allowance A itself (a test checks it).

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
from reference.activations import ACTIVATIONS, sigmoid
from reference.types import Array
from verification.cases import Case
from verification.judge.values import ALLOWANCES
from verification.oracles.precision import DIVIDE_BY_N_ROUNDINGS, TERM_U, gamma, precision_of
from verification.oracles.rounding import ROUNDING
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

    def agrees(self, returned: "Returned", l: int) -> bool:
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


def _named_layers(layers: list[int]) -> str:
    layers = sorted(layers)
    if len(layers) == 1:
        return f"layer {layers[0]}"
    return "layers " + ", ".join(map(str, layers))


# --- phi' -------------------------------------------------------------------------------------

_SCOPES = {
    "every layer": lambda t, l: True,
    "the hidden layers": lambda t, l: l < t.L,
    "the output layer": lambda t, l: l == t.L,
}
# phi'(h) differs from phi'(z) for these; identity, relu and leaky_relu have phi'(h) = phi'(z)
_SLOPE_OF_H_DIFFERS = ("sigmoid", "tanh", "softplus", "elu", "gelu_tanh")


class DphiAtH(Hypothesis):
    """phi_l' evaluated at h^l = phi_l(z^l) instead of at z^l, in `scope`."""

    name = "dphi_at_h"

    def __init__(self, scope: str = "every layer") -> None:
        self.scope = scope

    def _changed(self, t: Trace) -> list[int]:
        return [
            l
            for l in range(1, t.L + 1)
            if _SCOPES[self.scope](t, l) and t.case.arch.activations[l - 1] in _SLOPE_OF_H_DIFFERS
        ]

    def applies(self, t: Trace) -> bool:
        return bool(self._changed(t))

    def first_changed(self, t: Trace) -> int:
        return max(self._changed(t))

    def computation(self, t: Trace) -> tuple:
        return (type(self).__name__, tuple(self._changed(t)))  # the scope: its layers alone

    def describe(self, t: Trace) -> str:
        names = sorted({t.case.arch.activations[l - 1] for l in self._changed(t)})
        example = {
            "tanh": "tanh'(h) = 1 - tanh(h)^2, where tanh'(z) = 1 - tanh(z)^2 = 1 - h^2 belongs",
            "sigmoid": "sigma'(h) = sigma(h) (1 - sigma(h)), where sigma'(z) = h (1 - h) belongs",
        }
        first = next((example[name] for name in names if name in example), None)
        return (
            f"phi' evaluated at h^l = phi(z^l) instead of at z^l, in {self.scope} "
            f"({', '.join(names)}, {_named_layers(self._changed(t))})"
            + (f": {first}" if first else "")
        )

    def slope(self, t: Trace, l: int) -> Bounded:
        if l not in self._changed(t):
            return t.slopes[l]
        name = t.case.arch.activations[l - 1]
        h = t.h[l]
        dphi = ACTIVATIONS[name].dphi(h)
        unit = activation_bound(name, h, t.e_h[l], t.exact_h[l], dphi, t.precision)
        return Bounded(dphi, unit.e_dphi)


class KinkConvention(Hypothesis):
    """At units exactly at their kink, phi'(kink) taken as `slopes[name]` instead of the
    contract's (PyTorch's) convention."""

    name = "kink_convention"

    def __init__(self, slopes: dict[str, float]) -> None:
        self.slopes = slopes

    def _at_kink(self, t: Trace, l: int) -> np.ndarray | None:
        name = t.case.arch.activations[l - 1]
        if name not in self.slopes:
            return None
        at = t.z[l] == ACTIVATIONS[name].kink
        return at if at.any() else None

    def applies(self, t: Trace) -> bool:
        return all(
            any(
                t.case.arch.activations[l - 1] == name and self._at_kink(t, l) is not None
                for l in range(1, t.L + 1)
            )
            for name in self.slopes
        )

    def first_changed(self, t: Trace) -> int:
        return max(l for l in range(1, t.L + 1) if self._at_kink(t, l) is not None)

    def describe(self, t: Trace) -> str:
        layers = [l for l in range(1, t.L + 1) if self._at_kink(t, l) is not None]
        units = sum(int(self._at_kink(t, l).sum()) for l in layers)
        taken = ", ".join(f"{name}'(0) = {slope:g}" for name, slope in self.slopes.items())
        contract = ", ".join(
            f"{name}'(0) = {ACTIVATIONS[name].dphi(np.zeros(1))[0]:g}" for name in self.slopes
        )
        return (
            f"another kink convention: {taken} at the {units} units exactly at the kink z = 0 "
            f"({_named_layers(layers)}), but the contract takes {contract}, PyTorch's "
            "convention (docs/contract.md, section 2)"
        )

    def slope(self, t: Trace, l: int) -> Bounded:
        at = self._at_kink(t, l)
        if at is None:
            return t.slopes[l]
        name = t.case.arch.activations[l - 1]
        base = t.slopes[l]
        return Bounded(np.where(at, self.slopes[name], base.value), base.error)


class DroppedSlope(Hypothesis):
    """phi' left out of delta: in the hidden layers (delta^l = delta^{l+1} (W^{l+1})^T) or at
    the output (delta^L = dE/dh^L)."""

    name = "dropped_term"

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def _changed(self, t: Trace) -> list[int]:
        return [
            l
            for l in range(1, t.L + 1)
            if _SCOPES[self.scope](t, l) and t.case.arch.activations[l - 1] != "identity"
        ]

    def applies(self, t: Trace) -> bool:
        return bool(self._changed(t))

    def first_changed(self, t: Trace) -> int:
        return max(self._changed(t))

    def computation(self, t: Trace) -> tuple:
        return (type(self).__name__, tuple(self._changed(t)))  # the scope: its layers alone

    def describe(self, t: Trace) -> str:
        equation = (
            "delta^L = phi_L'(z^L) * dE/dh^L"
            if self.scope == "the output layer"
            else "delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T"
        )
        return (
            f"a term of the recursion dropped: phi' is missing from delta in {self.scope} "
            f"({_named_layers(self._changed(t))}); {equation}"
        )

    def slope(self, t: Trace, l: int) -> Bounded:
        if l not in self._changed(t):
            return t.slopes[l]
        return Bounded(np.ones_like(t.z[l]), np.zeros_like(t.z[l]))


def _tanh_one_minus(z: Array, e_z: Array, precision) -> Bounded:
    t = np.tanh(z)
    error = ACTIVATIONS["tanh"].dphi(z) * e_z + TERM_U * precision.u * (1 + np.abs(t))
    return Bounded(1 - t, error)


def _one_minus_square(z: Array, e_z: Array, precision) -> Bounded:
    error = 2 * np.abs(z) * e_z + TERM_U * precision.u * (1 + z * z)
    return Bounded(1 - z * z, error)


def _sigmoid_alone(z: Array, e_z: Array, precision) -> Bounded:
    s = sigmoid(z)
    error = ACTIVATIONS["sigmoid"].dphi(z) * e_z + TERM_U * precision.u * ROUNDING[
        "sigmoid"
    ].value_terms(z)
    return Bounded(s, error)


def _output_form_at_z(z: Array, e_z: Array, precision) -> Bounded:
    error = np.abs(1 - 2 * z) * e_z + TERM_U * precision.u * (np.abs(z) + z * z)
    return Bounded(z * (1 - z), error)


WRONG_SLOPES = {
    ("tanh", "1 - tanh(z) (the square missing)"): _tanh_one_minus,
    ("tanh", "1 - z^2 (the form 1 - h^2 applied to z)"): _one_minus_square,
    ("sigmoid", "sigma(z) (the factor 1 - sigma(z) missing)"): _sigmoid_alone,
    ("sigmoid", "z (1 - z) (the form h (1 - h) applied to z)"): _output_form_at_z,
}
"""Wrong formulas of phi' met in practice, each with its value and rounding bound."""


class WrongSlopeFormula(Hypothesis):
    """phi' of one activation computed by a wrong formula (WRONG_SLOPES), in every layer."""

    name = "wrong_slope"

    def __init__(self, activation: str, formula: str) -> None:
        self.activation, self.formula = activation, formula
        self.compute = WRONG_SLOPES[(activation, formula)]

    def applies(self, t: Trace) -> bool:
        return self.activation in t.case.arch.activations

    def first_changed(self, t: Trace) -> int:
        return max(
            l for l in range(1, t.L + 1) if t.case.arch.activations[l - 1] == self.activation
        )

    def describe(self, t: Trace) -> str:
        right = {"tanh": "1 - tanh(z)^2", "sigmoid": "sigma(z) (1 - sigma(z))"}[self.activation]
        return f"{self.activation}'(z) computed as {self.formula}; it is {right}"

    def slope(self, t: Trace, l: int) -> Bounded:
        if t.case.arch.activations[l - 1] != self.activation:
            return t.slopes[l]
        return self.compute(t.z[l], t.e_z[l], t.precision)


# --- the loss gradient ------------------------------------------------------------------------


class LossFactor(Hypothesis):
    """dE/dh^L times a constant factor (so every gradient entry is)."""

    def __init__(self, name: str, factor: str, applies_to: tuple[str, ...] = ()) -> None:
        self.name, self.factor_name, self.applies_to = name, factor, applies_to

    def factor(self, t: Trace) -> float:
        return {"n": t.n, "1/n": 1 / t.n, "-1": -1.0, "2": 2.0, "1/2": 0.5}[self.factor_name]

    def applies(self, t: Trace) -> bool:
        if self.applies_to and t.case.arch.loss not in self.applies_to:
            return False
        return self.factor(t) != 1.0

    def describe(self, t: Trace) -> str:
        n = t.n
        return {
            "missing_mean": f"a factor n = {n} everywhere: the batch sum where E is the batch "
            f"MEAN, so dE/dh^L lacks its 1/n (sum for mean)",
            "doubled_mean": f"a factor 1/n = 1/{n} everywhere: the 1/n of the mean applied "
            "twice (once in dE/dh^L, once more later)",
            "sign": "the sign is flipped everywhere: a sign error in the loss gradient (h^L - y, "
            "not y - h^L; softmax - onehot, not onehot - softmax), or -dE/dW returned where "
            "dE/dW belongs (the minus belongs to the update)",
            "squared_error_factor": (
                "a factor 2 everywhere: the 1/2 of squared_error dropped (its dE/dh^L is "
                "(h^L - y) / n)"
                if self.factor_name == "2"
                else "a factor 1/2 everywhere: the 1/2 of squared_error applied twice"
            ),
        }[self.name]

    def loss_gradient(self, t: Trace) -> Bounded:
        return scaled(t.g, self.factor(t), t.precision)


class NoSoftmax(Hypothesis):
    """cross_entropy's dE/dh^L as (h^L - onehot(y)) / n: the softmax left out."""

    name = "no_softmax"

    def applies(self, t: Trace) -> bool:
        return t.case.arch.loss == "cross_entropy"

    def describe(self, t: Trace) -> str:
        return (
            "the softmax left out of cross_entropy's gradient: (h^L - onehot(y)) / n where "
            "(softmax(h^L) - onehot(y)) / n belongs (h^L are logits)"
        )

    def loss_gradient(self, t: Trace) -> Bounded:
        h, n, u = t.h[t.L], t.n, t.precision.u
        onehot = np.zeros_like(h)
        onehot[np.arange(n), t.case.y] = 1.0
        d = h - onehot
        error = (t.e_h[t.L] + u * (np.abs(h) + 1)) / n
        return scaled(Bounded(d, error * n), 1 / n, t.precision)


_CROSS_ENTROPIES = ("cross_entropy", "binary_cross_entropy")


def _probabilities(t: Trace) -> Array:
    """softmax(h^L) for cross_entropy, sigma(h^L) for binary_cross_entropy."""
    h = t.h[t.L]
    if t.case.arch.loss == "cross_entropy":
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return sigmoid(h)


def _targets(t: Trace) -> Array:
    """onehot(y) for cross_entropy, y for binary_cross_entropy."""
    if t.case.arch.loss == "cross_entropy":
        onehot = np.zeros_like(t.h[t.L])
        onehot[np.arange(t.n), t.case.y] = 1.0
        return onehot
    return t.case.y


def _same_style(a: Hypothesis, b: Hypothesis) -> bool:
    return type(a) is type(b) and getattr(a, "style", None) == getattr(b, "style", None)


CLIP_STYLES = {
    "clip": "the clipped p in the gradient, (clip(p) - y) / n",
    "zero": "a zero gradient where the clip is active (autodiff through the clip)",
}


class ClippedProbabilities(Hypothesis):
    """p = softmax(h^L) or sigma(h^L) clipped to [eps, 1 - eps] before the log, as tutorials
    do against log(0); `style` says how the gradient goes through the clip (CLIP_STYLES)."""

    name = "clipped_probabilities"

    def __init__(self, eps: float, style: str) -> None:
        self.eps, self.style = eps, style

    def applies(self, t: Trace) -> bool:
        if t.case.arch.loss not in _CROSS_ENTROPIES:
            return False
        p = _probabilities(t)
        return bool(((p < self.eps) | (p > 1 - self.eps)).any())

    def _outside(self, t: Trace) -> np.ndarray:
        p = _probabilities(t)
        if t.case.arch.loss == "cross_entropy":  # -log clip(p_y): the label's p decides the row
            p_y = p[np.arange(t.n), t.case.y][:, None]
            return np.broadcast_to((p_y < self.eps) | (p_y > 1 - self.eps), p.shape)
        return (p < self.eps) | (p > 1 - self.eps)

    def describe(self, t: Trace) -> str:
        return self.describe_with(t, [])

    def describe_with(self, t: Trace, others: list[Hypothesis]) -> str:
        eps = sorted({self.eps} | {h.eps for h in others if _same_style(self, h)}, reverse=True)
        clipped = " or ".join(f"[{e:g}, 1 - {e:g}]" for e in eps)
        cannot = " (this case cannot tell which)" if len(eps) > 1 else ""
        p = _probabilities(t)
        smallest, largest = float(p.min()), float(p.max())
        top = "1" if largest == 1 else f"1 - {1 - largest:.3g}"
        return (
            f"probabilities clipped to {clipped}{cannot} before the log, with "
            f"{CLIP_STYLES[self.style]}: this case's p range from {smallest:.3g} to {top} "
            f"(largest logit |h^L| {np.abs(t.h[t.L]).max():.4g}); E takes log p exactly "
            "(a log-sum-exp, or softplus for binary_cross_entropy), and so must its gradient"
        )

    def loss_gradient(self, t: Trace) -> Bounded:
        g, n = t.g, t.n
        p = _probabilities(t)
        if self.style == "clip":  # clip is 1-Lipschitz: the error bound of p carries over
            value = (np.clip(p, self.eps, 1 - self.eps) - _targets(t)) / n
            return Bounded(value, g.error + DIVIDE_BY_N_ROUNDINGS * t.precision.u * np.abs(value))
        outside = self._outside(t)
        # p within its error of eps or 1 - eps may fall on either side of the clip
        e_p = g.error * n
        near = (np.abs(p - self.eps) <= e_p) | (np.abs(p - (1 - self.eps)) <= e_p)
        value = np.where(outside, 0.0, g.value)
        return Bounded(value, g.error + np.where(near, np.abs(g.value), 0.0))


LOGIT_CLIPS = (20.0, 50.0, 100.0, 250.0, 500.0, 709.0)
"""Where code clips logits (or pre-activations) against overflow in e^h: the values met in
tutorials and answers (500 is the usual guard of a NumPy sigmoid; 709 is log(largest float))."""


class ClippedLogits(Hypothesis):
    """The logits h^L clipped to [-C, C] before the loss gradient; `style` as for
    ClippedProbabilities."""

    name = "clipped_logits"

    def __init__(self, limit: float, style: str) -> None:
        self.limit, self.style = limit, style

    def applies(self, t: Trace) -> bool:
        return t.case.arch.loss in _CROSS_ENTROPIES and bool((np.abs(t.h[t.L]) > self.limit).any())

    def describe(self, t: Trace) -> str:
        return self.describe_with(t, [])

    def describe_with(self, t: Trace, others: list[Hypothesis]) -> str:
        limits = sorted({self.limit} | {h.limit for h in others if _same_style(self, h)})
        clipped = " or ".join(f"[-{c:g}, {c:g}]" for c in limits)
        cannot = " (this case cannot tell which)" if len(limits) > 1 else ""
        how = {"clip": "the loss gradient taken at the clipped logits", "zero": CLIP_STYLES["zero"]}
        return (
            f"logits clipped to {clipped}{cannot} before the loss, with {how[self.style]}: "
            f"this case's logits reach {np.abs(t.h[t.L]).max():.4g}; a log-sum-exp (or "
            "softplus) needs no clip"
        )

    def loss_gradient(self, t: Trace) -> Bounded:
        h = t.h[t.L]
        clipped = t.loss_gradient_at(np.clip(h, -self.limit, self.limit))
        if self.style == "clip":
            return clipped
        outside = np.abs(h) > self.limit
        near = np.abs(np.abs(h) - self.limit) <= t.e_h[t.L]
        value = np.where(outside, 0.0, clipped.value)
        return Bounded(value, clipped.error + np.where(near, np.abs(clipped.value), 0.0))


# --- dE/dW and dE/db --------------------------------------------------------------------------


class WeightGradientMean(Hypothesis):
    """dE/dW^l divided by n once more: the batch mean of (h^{l-1})^T delta^l, where delta^l
    already carries the 1/n of E."""

    name = "doubled_mean"

    def applies(self, t: Trace) -> bool:
        return t.n > 1

    def describe(self, t: Trace) -> str:
        return (
            f"a factor 1/n = 1/{t.n} in dE/dW only: (h^{{l-1}})^T delta^l divided by n again, "
            "but delta^l already carries the 1/n of the mean"
        )

    def weight_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        return scaled(super().weight_gradient(t, delta, l), 1 / t.n, t.precision)


class BiasGradientMean(Hypothesis):
    """dE/db^l as the mean of delta^l's rows (mean for sum)."""

    name = "mean_for_sum"

    def applies(self, t: Trace) -> bool:
        return t.n > 1

    def describe(self, t: Trace) -> str:
        return (
            f"a factor 1/n = 1/{t.n} in dE/db only: the bias gradient is the column SUM of "
            "delta^l, 1^T delta^l, not its mean (mean for sum; the 1/n of E is already in "
            "delta^l)"
        )

    def bias_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        return scaled(super().bias_gradient(t, delta, l), 1 / t.n, t.precision)


class BiasGradientWrongAxis(Hypothesis):
    """dE/db^l summed over the wrong axis: delta^l 1 (one entry per row) for 1^T delta^l."""

    name = "bias_wrong_axis"

    def describe(self, t: Trace) -> str:
        return (
            "dE/db^l summed over the wrong axis: delta^l.sum(axis=1), one entry per example, "
            "where the column sums 1^T delta^l = delta^l.sum(axis=0) belong"
        )

    def bias_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        return column_sums(delta, t.precision, axis=1)


class TransposedWeightGradient(Hypothesis):
    """dE/dW^l as (delta^l)^T h^{l-1}: the transpose of (h^{l-1})^T delta^l."""

    name = "transposed_weight_gradient"

    def describe(self, t: Trace) -> str:
        return (
            "dE/dW^l computed as (delta^l)^T h^{l-1}, the transpose of (h^{l-1})^T delta^l "
            "(which has the shape of W^l, (n_{l-1}, n_l))"
        )

    def weight_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        h = t.h_bounded(l - 1)
        return product(Bounded(delta.value.T, delta.error.T), h, t.precision)


class TransposedRecursion(Hypothesis):
    """delta^{l+1} W^{l+1} in the recursion, without the transpose."""

    name = "transposed_recursion"

    def applies(self, t: Trace) -> bool:
        return t.L > 1

    def first_changed(self, t: Trace) -> int:
        return t.L - 1

    def describe(self, t: Trace) -> str:
        return (
            "W^{l+1} not transposed in the recursion: delta^{l+1} W^{l+1} where "
            "delta^{l+1} (W^{l+1})^T belongs (delta^l = phi'(z^l) * delta^{l+1} (W^{l+1})^T)"
        )

    def carry(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        return product(delta, t.W_bounded(l), t.precision)


class OffByOneInput(Hypothesis):
    """dE/dW^l = (h^l)^T delta^l: the layer's own output where its input h^{l-1} belongs."""

    name = "off_by_one_layer"

    def describe(self, t: Trace) -> str:
        return (
            "an off-by-one layer: dE/dW^l = (h^l)^T delta^l, with the layer's output h^l where "
            "its input h^{l-1} belongs (h[l] for h[l - 1], with h[0] = x)"
        )

    def weight_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        h = t.h_bounded(l)
        return product(Bounded(h.value.T, h.error.T), delta, t.precision)


class WrongLayerWeights(Hypothesis):
    """W^l used where W^{l+1} belongs: delta^l = phi'(z^l) * delta^{l+1} (W^l)^T."""

    name = "wrong_layer_weights"

    def applies(self, t: Trace) -> bool:
        return t.L > 1

    def first_changed(self, t: Trace) -> int:
        return t.L - 1

    def describe(self, t: Trace) -> str:
        return (
            "W^l used where W^{l+1} belongs in the recursion: delta^l = phi'(z^l) * "
            "delta^{l+1} (W^{l+1})^T (in Python W^{l+1} is params[l], W^l is params[l - 1])"
        )

    def carry(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        W = t.W_bounded(l - 1)  # the bug: W^{l-1}, where W^l carries delta^l down
        return product(delta, Bounded(W.value.T, W.error.T), t.precision)


class SqueezedOperands(Hypothesis):
    """h^{l-1} and delta^l squeezed before dE/dW^l = (h^{l-1})^T delta^l, which loses an axis
    of length 1 (a batch of one row, or a layer of width 1); `how`: "@" or "einsum"."""

    name = "squeeze"

    def __init__(self, how: str) -> None:
        self.how = how

    def applies(self, t: Trace) -> bool:
        return t.n == 1 or 1 in t.case.arch.sizes

    def describe(self, t: Trace) -> str:
        ones = [f"n = {t.n}"] if t.n == 1 else []
        ones += [f"n_{i} = 1" for i, width in enumerate(t.case.arch.sizes) if width == 1]
        return (
            f"a squeeze() that drops an axis of length 1 ({', '.join(ones)}) before "
            "dE/dW^l = (h^{l-1})^T delta^l: keep h and delta 2-D, (n, n_l)"
        )

    def weight_gradient(self, t: Trace, delta: Bounded, l: int) -> Bounded:
        h = t.h_bounded(l - 1)
        hq, dq = (
            Bounded(h.value.squeeze(), h.error.squeeze()),
            Bounded(delta.value.squeeze(), delta.error.squeeze()),
        )
        if self.how == "einsum":
            value = np.einsum("ni,nj->ij", hq.value, dq.value)
            error = np.einsum(
                "ni,nj->ij",
                hq.error + gamma(t.n, t.precision.u) * (np.abs(hq.value) + hq.error),
                np.abs(dq.value) + dq.error,
            ) + np.einsum("ni,nj->ij", np.abs(hq.value), dq.error)
            return Bounded(value, error)
        return product(Bounded(hq.value.T, hq.error.T), dq, t.precision)


# --- the list returned ------------------------------------------------------------------------


class ReversedLayers(Hypothesis):
    """The pairs returned from layer L down to layer 1, not in layer order."""

    name = "reversed_layers"

    def applies(self, t: Trace) -> bool:
        return t.L > 1

    def describe(self, t: Trace) -> str:
        return (
            "the gradients returned in the order backprop makes them, layer L first: the list "
            "must hold (dE/dW^l, dE/db^l) at index l - 1"
        )

    def pairs(self, t: Trace) -> Iterator[tuple[int, Bounded, Bounded]]:
        for position in range(t.L, 0, -1):
            yield position, *t.correct[t.L + 1 - position]


class DroppedLayer(Hypothesis):
    """L - 1 pairs: the layer loop stops one layer short (layer 1 or layer L left out)."""

    name = "off_by_one_layer"

    def __init__(self, left_out: str) -> None:
        self.left_out = left_out  # "first" or "last"

    def applies(self, t: Trace) -> bool:
        return t.L > 1

    def describe(self, t: Trace) -> str:
        which = "layer 1" if self.left_out == "first" else f"layer L = {t.L}"
        return (
            f"an off-by-one in the layer loop: {t.L - 1} pairs returned, {which} left out "
            f"(range(1, L) or range(L - 1, 0, -1) where layers 1..L = {t.L} belong)"
        )

    def length(self, t: Trace) -> int:
        return t.L - 1

    def pairs(self, t: Trace) -> Iterator[tuple[int, Bounded, Bounded]]:
        shift = 1 if self.left_out == "first" else 0
        for position in range(t.L - 1, 0, -1):
            yield position, *t.correct[position + shift]


# --- all of them ------------------------------------------------------------------------------


def hypotheses(t: Trace) -> list[Hypothesis]:
    """Every hypothesis that can change something on this case, the likeliest first."""
    kinked = [
        name
        for name in ("relu", "leaky_relu")
        if any(
            t.case.arch.activations[l - 1] == name and (t.z[l] == 0).any()
            for l in range(1, t.L + 1)
        )
    ]
    kinks: list[Hypothesis] = []
    for name in kinked:  # the slope of the right side, or the mean of both sides, at 0
        left, right = ACTIVATIONS[name].slopes_at_kink
        kinks += [KinkConvention({name: right}), KinkConvention({name: (left + right) / 2})]
    if len(kinked) > 1:
        kinks.append(KinkConvention({name: ACTIVATIONS[name].slopes_at_kink[1] for name in kinked}))
    candidates: list[Hypothesis] = [
        DphiAtH("every layer"),
        DphiAtH("the hidden layers"),
        DphiAtH("the output layer"),
        *kinks,
        DroppedSlope("the hidden layers"),
        DroppedSlope("the output layer"),
        DroppedSlope("every layer"),
        LossFactor("sign", "-1"),
        LossFactor("missing_mean", "n"),
        LossFactor("doubled_mean", "1/n"),
        WeightGradientMean(),
        BiasGradientMean(),
        LossFactor("squared_error_factor", "2", ("squared_error",)),
        LossFactor("squared_error_factor", "1/2", ("squared_error",)),
        TransposedWeightGradient(),
        TransposedRecursion(),
        OffByOneInput(),
        WrongLayerWeights(),
        *(ClippedProbabilities(eps, style) for eps in (1e-7, 1e-15) for style in CLIP_STYLES),
        *(ClippedLogits(limit, style) for limit in LOGIT_CLIPS for style in CLIP_STYLES),
        *(WrongSlopeFormula(name, formula) for name, formula in WRONG_SLOPES),
        NoSoftmax(),
        BiasGradientWrongAxis(),
        SqueezedOperands("@"),
        SqueezedOperands("einsum"),
        ReversedLayers(),
        DroppedLayer("first"),
        DroppedLayer("last"),
    ]
    chosen, seen = [], set()
    for h in candidates:  # "every layer" of L = 1 is "the output layer": keep the first
        if h.applies(t) and h.computation(t) not in seen:
            chosen.append(h)
            seen.add(h.computation(t))
    return chosen


# --- does a hypothesis explain what came back? ------------------------------------------------

RETURNED_SIZE = 4  # see returned_arrays: no hypothesis makes an array larger than this allows
Returned = list[tuple[np.ndarray | None, np.ndarray | None]] | None
"""What the implementation returned, as float64 arrays where they could be read (None where
not), or None if it returned no list of pairs."""


def returned_arrays(result: object, case: Case) -> Returned:
    """`result` as Returned: every pair's arrays converted to float64 where they can be.

    What cannot be what any hypothesis gives is not converted: more than L + 1 pairs (None),
    an array of more entries than RETURNED_SIZE times the largest of n and the widths, squared
    (None in its place). An implementation's result is untrusted: nothing it does raises here.
    """
    if not isinstance(result, (list, tuple)) or len(result) > case.L + 1:
        return None
    largest = RETURNED_SIZE * max(case.n, *case.arch.sizes) ** 2
    pairs = []
    for pair in result:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            pairs.append((None, None))
            continue
        arrays = []
        for a in pair:
            try:
                a = np.asarray(a)
                arrays.append(a.astype(np.float64) if a.size <= largest else None)
            except Exception:  # an object whose conversion fails in any way
                arrays.append(None)
        pairs.append((arrays[0], arrays[1]))
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


def explains(h: Hypothesis, t: Trace, returned: Returned, error: str | None) -> Explanation | None:
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


def float32_inside(t: Trace, returned: Returned) -> bool:
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
