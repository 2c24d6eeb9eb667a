"""A zoo of classic backprop bugs: broken gradient implementations a checker must catch.

`Textbook` is a plain, correct backprop written from the textbook formulas (no tail-accurate
rewrites), one overridable method per step: the gate must pass it. Each bug is a subclass that
changes one step, as the bug would in real code. `ZOO` lists them as `Bug` records:

    name       what was done wrong, in words
    impl       the class; impl() is a fresh gradient implementation (docs/contract.md, section 4)
    options    the keyword arguments of verification.check that expose it (activations,
               losses, bounds)
    layer      layer(case) -> the layer (1..L) where its error starts on a failing case, which
               the gate must name
    diagnosis  the name of the diagnosis (verification.judge.diagnoses.DIAGNOSES) the report
               must give
    regimes    the regimes of verification.cases where it mostly shows, for measurements that
               need its failing cases (None: it shows in every regime)

Plant them into your own pipeline to see that it catches them:

    from verification.zoo.bugs import ZOO
    for bug in ZOO:
        report = verification.check(bug.impl(), cases=200, **bug.options)
        assert not report.ok, bug.name

docs/diagnoses.md tabulates, per bug, how often the gate's report names the right diagnosis.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verification.cases import Case, CaseOptions

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


class LeakyReluSlopeOneAtZero(Textbook):
    def dphi(self, name, z, h):
        if name == "leaky_relu":
            return np.where(z >= 0, 1.0, 0.01)  # leaky_relu'(0) = 1: against PyTorch's 0.01
        return super().dphi(name, z, h)


class MeanTwice(Textbook):
    """The 1/n of the mean in dE/dh^L, and again in dE/dW and dE/db."""

    def weight_gradient(self, h, delta, l):
        return h[l - 1].T @ delta / delta.shape[0]

    def bias_gradient(self, delta):
        return delta.mean(axis=0)


class LossGradientSignFlipped(Textbook):
    def loss_gradient(self, loss, h, y):
        return -super().loss_gradient(loss, h, y)  # y - h^L, where h^L - y belongs


class RecursionWithoutTranspose(Textbook):
    def hidden_delta(self, arch, params, z, h, delta_next, l):
        W_next = params[l][0]
        return self.dphi(arch.activations[l - 1], z[l], h[l]) * (delta_next @ W_next)


class WeightsOfTheLayerBelow(Textbook):
    def hidden_delta(self, arch, params, z, h, delta_next, l):
        W = params[l - 1][0]  # W^l, where W^{l+1} = params[l] belongs
        return self.dphi(arch.activations[l - 1], z[l], h[l]) * (delta_next @ W.T)


class ReversedLayerOrder(Textbook):
    def finish(self, arch, params, grads):
        return grads[::-1]  # built from layer L down, never put back in layer order


class ClippedProbabilities(Textbook):
    """p clipped to [1e-7, 1 - 1e-7] before the log (Keras' epsilon), differentiated through
    the clip as autodiff does: zero where the clip is active."""

    eps = 1e-7

    def loss_gradient(self, loss, h, y):
        g = super().loss_gradient(loss, h, y)
        if loss == "cross_entropy":
            p_y = self.softmax(h)[np.arange(h.shape[0]), y]
            g[(p_y < self.eps) | (p_y > 1 - self.eps)] = 0.0
        elif loss == "binary_cross_entropy":
            p = _sigmoid(h)
            g[(p < self.eps) | (p > 1 - self.eps)] = 0.0
        return g


class ClippedProbabilitiesInGradient(Textbook):
    """p clipped to [1e-15, 1 - 1e-15] (scikit-learn's old log_loss eps), and the clipped p
    used in the gradient (p - y) / n."""

    eps = 1e-15

    def loss_gradient(self, loss, h, y):
        n = h.shape[0]
        if loss == "cross_entropy":
            p = np.clip(self.softmax(h), self.eps, 1 - self.eps)
            p[np.arange(n), y] -= 1
            return p / n
        if loss == "binary_cross_entropy":
            return (np.clip(_sigmoid(h), self.eps, 1 - self.eps) - y) / n
        return super().loss_gradient(loss, h, y)


class ClippedLogits(Textbook):
    """Logits clipped to [-500, 500] against overflow in e^h, a common NumPy guard."""

    def loss_gradient(self, loss, h, y):
        return super().loss_gradient(loss, np.clip(h, -500, 500), y)


def _overflowing_sigmoid(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / (1 + e)  # inf / inf = NaN past z = 709.78


class OverflowingSigmoid(Textbook):
    """sigma(z) as e^z / (1 + e^z), in the layers and in binary_cross_entropy's gradient."""

    def phi(self, name, z):
        return _overflowing_sigmoid(z) if name == "sigmoid" else super().phi(name, z)

    def dphi(self, name, z, h):
        if name == "sigmoid":
            s = _overflowing_sigmoid(z)
            return s * (1 - s)
        return super().dphi(name, z, h)

    def loss_gradient(self, loss, h, y):
        if loss == "binary_cross_entropy":
            return (_overflowing_sigmoid(h) - y) / h.shape[0]
        return super().loss_gradient(loss, h, y)


class OverflowingSoftplus(Textbook):
    """softplus(z) as log(1 + e^z): inf past z = 709.78."""

    def phi(self, name, z):
        if name == "softplus":
            with np.errstate(over="ignore"):
                return np.log(1 + np.exp(z))
        return super().phi(name, z)


# --- the zoo ----------------------------------------------------------------------------------


def top(case: Case) -> int:
    return case.arch.L


def below_top(case: Case) -> int:
    return case.arch.L - 1


def where_transposing_dW_matters(case: Case) -> int:
    """The highest layer whose dE/dW^l is not 1 x 1: transposing a 1 x 1 changes nothing."""
    sizes = case.arch.sizes
    return max((l for l in range(1, case.arch.L + 1) if sizes[l - 1] * sizes[l] > 1), default=1)


def where_transposing_W_matters(case: Case) -> int:
    """The highest layer l < L whose W^{l+1} is not symmetric (a 1 x 1 W^{l+1} is): below it,
    delta^{l+1} W^{l+1} and delta^{l+1} (W^{l+1})^T differ."""
    for l in range(case.arch.L - 1, 0, -1):
        W = case.params[l][0]  # W^{l+1}
        if W.shape[0] != W.shape[1] or not np.array_equal(W, W.T):
            return l
    return 1


def where_squeeze_breaks(case: Case) -> int:
    """dE/dW^l is computed from layer L down; the first that squeezes an axis raises."""
    sizes = case.arch.sizes
    return max(l for l in range(1, case.arch.L + 1) if case.n == 1 or 1 in (sizes[l - 1], sizes[l]))


def _highest_layer_at_kink(case: Case, name: str) -> int:
    """The highest layer of activation `name` with a pre-activation exactly 0 (where the
    convention for phi'(0) matters)."""
    import reference

    z = reference.forward(case.arch, case.params, case.x).z
    return max(
        l
        for l in range(1, case.arch.L + 1)
        if case.arch.activations[l - 1] == name and np.any(z[l] == 0)
    )


def highest_relu_layer_at_kink(case: Case) -> int:
    return _highest_layer_at_kink(case, "relu")


def highest_leaky_relu_layer_at_kink(case: Case) -> int:
    return _highest_layer_at_kink(case, "leaky_relu")


EXP_LIMIT = float(np.log(np.finfo(np.float64).max))  # e^z = inf past z = 709.78


def where_exp_overflows(case: Case) -> int:
    """The lowest sigmoid or softplus layer whose z^l passes 709.78, where e^z overflows; else
    layer L, whose logits overflow in the loss's gradient."""
    import reference

    z = reference.forward(case.arch, case.params, case.x).z
    for l in range(1, case.arch.L + 1):
        if case.arch.activations[l - 1] in ("sigmoid", "softplus") and z[l].max() > EXP_LIMIT:
            return l
    return case.arch.L


@dataclass(frozen=True)
class Bug:
    """One bug of the zoo (see the module docstring)."""

    name: str
    impl: Callable[[], Textbook]
    options: dict
    layer: Callable[[Case], int]
    diagnosis: str
    regimes: tuple[str, ...] | None = None  # where it mostly shows (None: in every regime)

    def case_options(self) -> CaseOptions:
        """The options as CaseOptions, restricted to `regimes`: the cases that can expose it."""
        regimes = {"regimes": self.regimes} if self.regimes else {}
        return CaseOptions(**self.options, **regimes)


SMOOTH = ("tanh", "sigmoid", "gelu_tanh", "softplus")
CROSS_ENTROPIES = ("cross_entropy", "binary_cross_entropy")

ZOO = [
    Bug(
        "missing phi' in the hidden layers",
        MissingHiddenDphi,
        {"activations": ("tanh",), "max_depth": 4},
        below_top,
        "dropped_term",
    ),
    Bug(
        "missing phi' at the output",
        MissingOutputDphi,
        {"activations": ("tanh",), "losses": ("squared_error",)},
        top,
        "dropped_term",
    ),
    Bug(
        "phi' taken at h instead of z",
        DphiAtH,
        {"activations": ("tanh", "sigmoid")},
        top,
        "dphi_at_h",
    ),
    Bug(
        "missing transpose in dE/dW",
        TransposedWeightGradient,
        {},
        where_transposing_dW_matters,
        "transposed_weight_gradient",
    ),
    Bug("off-by-one layer: h^l for h^{l-1}", OffByOneLayerInput, {}, top, "off_by_one_layer"),
    Bug("sum instead of mean", SumInsteadOfMean, {"activations": SMOOTH}, top, "missing_mean"),
    Bug("bias gradient averaged", BiasGradientAveraged, {}, top, "mean_for_sum"),
    Bug("bias gradient over the wrong axis", BiasGradientWrongAxis, {}, top, "bias_wrong_axis"),
    Bug("sign flipped", SignFlipped, {"activations": SMOOTH}, top, "sign"),
    Bug("in-place update of the parameters", InPlaceUpdate, {}, top, "in_place_update"),
    Bug(
        "gradients accumulated across calls",
        AccumulatesAcrossCalls,
        {},
        top,
        "accumulation",
    ),
    Bug("float32 inside", Float32Inside, {"activations": SMOOTH}, top, "float32_inside"),
    Bug(
        "unstable softmax",
        UnstableSoftmax,
        {"losses": ("cross_entropy",)},
        top,
        "overflow",
        ("large_logits", "tiny_gradients"),
    ),
    Bug(
        "a squeeze that breaks batch size 1",
        SqueezeBreaksBatchOfOne,
        {"max_batch": 2},
        where_squeeze_breaks,
        "squeeze",
    ),
    Bug(
        "relu'(0) = 1",
        ReluSlopeOneAtZero,
        {"activations": ("relu",)},
        highest_relu_layer_at_kink,
        "kink_convention",
        ("kinks",),
    ),
    Bug(
        "tanh' = 1 - tanh (square missing)",
        TanhDerivativeNotSquared,
        {"activations": ("tanh",)},
        top,
        "wrong_slope",
    ),
    Bug(
        "cross-entropy gradient without the softmax",
        CrossEntropyWithoutSoftmax,
        {"losses": ("cross_entropy",)},
        top,
        "no_softmax",
    ),
    Bug(
        "squared error's 1/2 dropped",
        MissingHalfInSquaredError,
        {"losses": ("squared_error",), "activations": SMOOTH},
        top,
        "squared_error_factor",
    ),
    Bug(
        "leaky_relu'(0) = 1",
        LeakyReluSlopeOneAtZero,
        {"activations": ("leaky_relu",)},
        highest_leaky_relu_layer_at_kink,
        "kink_convention",
        ("kinks",),
    ),
    Bug("1/n applied twice", MeanTwice, {"activations": SMOOTH}, top, "doubled_mean"),
    Bug("sign error in the loss gradient", LossGradientSignFlipped, {}, top, "sign"),
    Bug(
        "W^{l+1} not transposed in the recursion",
        RecursionWithoutTranspose,
        {"max_depth": 4},
        where_transposing_W_matters,
        "transposed_recursion",
    ),
    Bug(
        "W^l used where W^{l+1} belongs",
        WeightsOfTheLayerBelow,
        {"max_depth": 4},
        below_top,
        "wrong_layer_weights",
    ),
    Bug("layers returned in reverse order", ReversedLayerOrder, {}, top, "reversed_layers"),
    Bug(
        "probabilities clipped at 1e-7 (autodiff through the clip)",
        ClippedProbabilities,
        {"losses": CROSS_ENTROPIES},
        top,
        "clipped_probabilities",
        ("large_logits", "tiny_gradients"),
    ),
    Bug(
        "probabilities clipped at 1e-15 (clipped p in the gradient)",
        ClippedProbabilitiesInGradient,
        {"losses": CROSS_ENTROPIES},
        top,
        "clipped_probabilities",
        ("large_logits", "tiny_gradients"),
    ),
    Bug(
        "logits clipped at 500",
        ClippedLogits,
        {"losses": CROSS_ENTROPIES},
        top,
        "clipped_logits",
        ("large_logits", "tiny_gradients"),
    ),
    Bug(
        "sigmoid as e^z / (1 + e^z)",
        OverflowingSigmoid,
        {"losses": ("binary_cross_entropy",)},
        where_exp_overflows,
        "overflow",
        ("large_logits", "tiny_gradients"),
    ),
    Bug(
        "softplus as log(1 + e^z)",
        OverflowingSoftplus,
        {"activations": ("softplus", "tanh"), "losses": ("cross_entropy",)},
        where_exp_overflows,
        "overflow",
        ("large_logits", "tiny_gradients"),
    ),
]
"""Every bug of the zoo, each with the options that expose it, the layer where its error
starts and its diagnosis."""
