"""A zoo of classic backprop bugs, each a broken gradient implementation the gate must catch.

`Textbook` is a plain, correct backprop written from the textbook formulas (no tail-accurate
rewrites): the gate must pass it. Each bug is a subclass that changes one step, as the bug
would in real code. `ZOO` lists the bugs with the case options that expose them and the layer
where the error starts, which the gate must name.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verification.cases import Case

# --- textbook activations and derivatives -----------------------------------------------------


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _gelu_parts(z):
    c = np.sqrt(2 / np.pi)
    t = np.tanh(c * (z + 0.044715 * z**3))
    return t, c * (1 + 3 * 0.044715 * z**2)


PHI = {
    "identity": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.logaddexp(0, z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "gelu_tanh": lambda z: 0.5 * z * (1 + _gelu_parts(z)[0]),
}

DPHI = {
    "identity": np.ones_like,
    "sigmoid": lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(float),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
    "softplus": _sigmoid,
    "elu": lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
    "gelu_tanh": lambda z: (
        0.5 * (1 + _gelu_parts(z)[0]) + 0.5 * z * (1 - _gelu_parts(z)[0] ** 2) * _gelu_parts(z)[1]
    ),
}


def _softmax(h):
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Textbook:
    """Correct backprop, one overridable method per step, as a student might write it."""

    def __call__(self, arch, params, x, y):
        L = arch.L
        h, z = {0: x}, {}
        for l in range(1, L + 1):
            W, b = params[l - 1]
            z[l] = self.pre_activation(h[l - 1], W, b)
            h[l] = self.phi(arch.activations[l - 1], z[l])
        delta = self.output_delta(arch, z[L], h[L], y)
        grads = {}
        for l in range(L, 0, -1):
            grads[l] = (self.weight_gradient(h, delta, l), self.bias_gradient(delta))
            if l > 1:
                delta = self.hidden_delta(arch, params, z, h, delta, l - 1)
        return self.finish(arch, params, [grads[l] for l in range(1, L + 1)])

    def pre_activation(self, h_prev, W, b):
        return h_prev @ W + b

    def phi(self, name, z):
        return PHI[name](z)

    def dphi(self, name, z, h):
        return DPHI[name](z)

    def loss_gradient(self, loss, h, y):
        n = h.shape[0]
        if loss == "squared_error":
            return (h - y) / n
        if loss == "cross_entropy":
            onehot = np.zeros_like(h)
            onehot[np.arange(n), y] = 1
            return (self.softmax(h) - onehot) / n
        return (_sigmoid(h) - y) / n

    def softmax(self, h):
        return _softmax(h)

    def output_delta(self, arch, z_L, h_L, y):
        return self.dphi(arch.activations[-1], z_L, h_L) * self.loss_gradient(arch.loss, h_L, y)

    def hidden_delta(self, arch, params, z, h, delta_next, l):
        W_next = params[l][0]  # W^{l+1} is params[l]
        return self.dphi(arch.activations[l - 1], z[l], h[l]) * (delta_next @ W_next.T)

    def weight_gradient(self, h, delta, l):
        return h[l - 1].T @ delta

    def bias_gradient(self, delta):
        return delta.sum(axis=0)

    def finish(self, arch, params, grads):
        return grads


# --- the bugs ---------------------------------------------------------------------------------


class MissingHiddenDphi(Textbook):
    def hidden_delta(self, arch, params, z, h, delta_next, l):
        return delta_next @ params[l][0].T


class MissingOutputDphi(Textbook):
    def output_delta(self, arch, z_L, h_L, y):
        return self.loss_gradient(arch.loss, h_L, y)


class DphiAtH(Textbook):
    def dphi(self, name, z, h):
        return DPHI[name](h)


class TransposedWeightGradient(Textbook):
    def weight_gradient(self, h, delta, l):
        return delta.T @ h[l - 1]


class OffByOneLayerInput(Textbook):
    def weight_gradient(self, h, delta, l):
        return h[l].T @ delta  # h^l where h^{l-1} belongs


class SumInsteadOfMean(Textbook):
    def loss_gradient(self, loss, h, y):
        return super().loss_gradient(loss, h, y) * h.shape[0]


class BiasGradientAveraged(Textbook):
    def bias_gradient(self, delta):
        return delta.mean(axis=0)


class BiasGradientWrongAxis(Textbook):
    def bias_gradient(self, delta):
        return delta.sum(axis=1)


class SignFlipped(Textbook):
    def finish(self, arch, params, grads):
        return [(-gW, -gb) for gW, gb in grads]


class InPlaceUpdate(Textbook):
    """Takes a gradient-descent step on the caller's parameters while it is at it."""

    def finish(self, arch, params, grads):
        for (W, b), (gW, gb) in zip(params, grads, strict=True):
            W -= 0.1 * gW
            b -= 0.1 * gb
        return grads


class AccumulatesAcrossCalls(Textbook):
    """Keeps gradient buffers per architecture and adds to them without zeroing."""

    def __init__(self):
        self.buffers = {}

    def finish(self, arch, params, grads):
        buffers = self.buffers.setdefault(
            arch.sizes, [(np.zeros_like(gW), np.zeros_like(gb)) for gW, gb in grads]
        )
        for (bW, bb), (gW, gb) in zip(buffers, grads, strict=True):
            bW += gW
            bb += gb
        return [(bW.copy(), bb.copy()) for bW, bb in buffers]


class Float32Inside(Textbook):
    def __call__(self, arch, params, x, y):
        params32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
        y32 = y if arch.loss == "cross_entropy" else y.astype(np.float32)
        grads = super().__call__(arch, params32, x.astype(np.float32), y32)
        return [(gW.astype(np.float64), gb.astype(np.float64)) for gW, gb in grads]


class UnstableSoftmax(Textbook):
    def softmax(self, h):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(h)
            return e / e.sum(axis=1, keepdims=True)


class SqueezeBreaksBatchOfOne(Textbook):
    """squeeze() meant to drop a stray axis; a batch of one row loses its batch axis."""

    def weight_gradient(self, h, delta, l):
        return np.einsum("ni,nj->ij", h[l - 1].squeeze(), delta.squeeze())


class ReluSlopeOneAtZero(Textbook):
    def dphi(self, name, z, h):
        if name == "relu":
            return (z >= 0).astype(float)  # relu'(0) = 1: against PyTorch's convention
        return super().dphi(name, z, h)


class TanhDerivativeNotSquared(Textbook):
    def dphi(self, name, z, h):
        return 1 - np.tanh(z) if name == "tanh" else super().dphi(name, z, h)


class CrossEntropyWithoutSoftmax(Textbook):
    def softmax(self, h):
        return h


class MissingHalfInSquaredError(Textbook):
    def loss_gradient(self, loss, h, y):
        return 2 * super().loss_gradient(loss, h, y)


# --- the zoo ----------------------------------------------------------------------------------


def top(case: Case) -> int:
    return case.arch.L


def below_top(case: Case) -> int:
    return case.arch.L - 1


def where_squeeze_breaks(case: Case) -> int:
    """dE/dW^l is computed from layer L down; the first that squeezes an axis raises."""
    sizes = case.arch.sizes
    return max(l for l in range(1, case.arch.L + 1) if case.n == 1 or 1 in (sizes[l - 1], sizes[l]))


def highest_relu_layer_at_kink(case: Case) -> int:
    """The highest relu layer with a pre-activation exactly 0 (where relu'(0) matters)."""
    import reference

    z = reference.forward(case.arch, case.params, case.x).z
    layers = [
        l
        for l in range(1, case.arch.L + 1)
        if case.arch.activations[l - 1] == "relu" and np.any(z[l] == 0)
    ]
    return max(layers)


@dataclass(frozen=True)
class Bug:
    name: str
    impl: Callable[[], Textbook]
    options: dict
    layer: Callable[[Case], int]
    hint: str | None = None  # a phrase the hint must contain, where one is expected


SMOOTH = ("tanh", "sigmoid", "gelu_tanh", "softplus")

ZOO = [
    Bug(
        "missing phi' in the hidden layers",
        MissingHiddenDphi,
        {"activations": ("tanh",), "max_depth": 4},
        below_top,
    ),
    Bug(
        "missing phi' at the output",
        MissingOutputDphi,
        {"activations": ("tanh",), "losses": ("squared_error",)},
        top,
    ),
    Bug("phi' taken at h instead of z", DphiAtH, {"activations": ("tanh", "sigmoid")}, top),
    Bug("missing transpose in dE/dW", TransposedWeightGradient, {}, top, "transpose"),
    Bug("off-by-one layer: h^l for h^{l-1}", OffByOneLayerInput, {}, top),
    Bug("sum instead of mean", SumInsteadOfMean, {"activations": SMOOTH}, top, "factor n"),
    Bug("bias gradient averaged", BiasGradientAveraged, {}, top),
    Bug("bias gradient over the wrong axis", BiasGradientWrongAxis, {}, top),
    Bug("sign flipped", SignFlipped, {"activations": SMOOTH}, top, "sign"),
    Bug("in-place update of the parameters", InPlaceUpdate, {}, top, "in-place"),
    Bug("gradients accumulated across calls", AccumulatesAcrossCalls, {}, top, "accumulated"),
    Bug("float32 inside", Float32Inside, {"activations": SMOOTH}, top),
    Bug("unstable softmax", UnstableSoftmax, {"losses": ("cross_entropy",)}, top),
    Bug(
        "a squeeze that breaks batch size 1",
        SqueezeBreaksBatchOfOne,
        {"max_batch": 2},
        where_squeeze_breaks,
    ),
    Bug("relu'(0) = 1", ReluSlopeOneAtZero, {"activations": ("relu",)}, highest_relu_layer_at_kink),
    Bug(
        "tanh' = 1 - tanh (square missing)",
        TanhDerivativeNotSquared,
        {"activations": ("tanh",)},
        top,
    ),
    Bug(
        "cross-entropy gradient without the softmax",
        CrossEntropyWithoutSoftmax,
        {"losses": ("cross_entropy",)},
        top,
    ),
    Bug(
        "squared error's 1/2 dropped",
        MissingHalfInSquaredError,
        {"losses": ("squared_error",), "activations": SMOOTH},
        top,
        "factor 2",
    ),
]
