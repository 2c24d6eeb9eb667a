"""The hypotheses the diagnoses test: one class per known bug, each the seed's backprop with
one step changed (verification.judge.hypotheses says how a hypothesis is run and matched).

    phi'                DphiAtH, KinkConvention, DroppedSlope, WrongSlopeFormula
    the loss gradient   LossFactor (sign, missing or doubled 1/n, squared_error's 1/2),
                        NoSoftmax, ClippedProbabilities, ClippedLogits
    dE/dW and dE/db     WeightGradientMean, BiasGradientMean, BiasGradientWrongAxis,
                        TransposedWeightGradient, TransposedRecursion, OffByOneInput,
                        WrongLayerWeights, SqueezedOperands
    the list returned   ReversedLayers, DroppedLayer

`hypotheses(trace)` lists those that can change something on a case, the likeliest first.
Each names its diagnosis (verification.judge.diagnoses.DIAGNOSES) and describes what was done
with the case's numbers.
"""

from collections.abc import Iterator

import numpy as np

from reference.activations import ACTIVATIONS, sigmoid
from reference.types import Array
from verification.judge.hypotheses import (
    Bounded,
    Hypothesis,
    Trace,
    column_sums,
    product,
    scaled,
)
from verification.oracles.precision import DIVIDE_BY_N_ROUNDINGS, TERM_U, gamma
from verification.oracles.rounding import ROUNDING
from verification.oracles.tolerance import activation_bound


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
