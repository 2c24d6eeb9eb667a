"""Other gradient implementations, to show what the tolerance policy accepts and what it flags.

Correct ones (each a gradient implementation of docs/contract.md, section 4, in float64) that
only round differently from the reference, which verification.oracles.tolerance must never flag:

    reversed_order     every sum (of h W, delta W^T, h^T delta, 1^T delta) taken term by term
                       in reverse order
    pairwise_sum       every sum by np.sum over an explicit product array (pairwise summation)
    shuffled_order     every sum term by term in an order drawn afresh on every call, as a GPU
                       reduction may do
    textbook           the formulas that lose relative accuracy in saturated tails:
                       sigmoid = 0.5 (1 + tanh(z/2)), sigmoid' = s (1 - s), tanh' = 1 - tanh^2,
                       softplus = log(1 + e^z), elu' = elu + 1, gelu_tanh' from its terms,
                       softmax - onehot, sigma(h) - y with that sigmoid
    logsumexp          cross_entropy through p = exp(h - logsumexp(h)), with the textbook
                       activations and BLAS products scaled by 1/n at the end
    exp_formulas       the formulas through exp that students write: tanh = 2 / (1 + e^-2z) - 1,
                       sigmoid = 1 / (1 + e^-z) (e^-z may overflow to inf: 1 / inf = 0 is
                       right), sigmoid' = sigma(z) sigma(-z), softplus = log(1 + e^z) where
                       e^z does not overflow (z itself beyond), elu = e^z - 1, gelu_tanh with
                       that tanh
    column_vectors     examples as columns (h^l is (n_l, n), z^l = (W^l)^T h^{l-1} + b^l), so
                       BLAS sums in other orders; tanh = 1 - 2 / (e^2z + 1), the rest textbook
    per_example        one backprop per row of the batch, the n gradients summed in order and
                       divided by n at the end, textbook formulas
    torch_autograd     a compact torch float64 network and torch.autograd.grad
    hips_autograd      the same network in autograd.numpy and autograd.grad (if installed)

docs/tolerance.md lists, per activation and loss, the formulas the tolerance policy covers and
those it does not (they overflow).

Broken ones, which it must flag:

    relative_error     the reference's gradient times (1 + 1e-6), every entry
    float32_inside     params, x and y cast to float32, everything computed in float32
    relu_prime_one     relu'(0) = 1 instead of PyTorch's relu'(0) = 0
    overflowing_sigmoid  sigmoid = e^z / (1 + e^z), in the hidden layers and in
                       binary_cross_entropy's sigma(h) - y: inf / inf = NaN past z = 709.78
    overflowing_softplus softplus = log(1 + e^z) unguarded: inf past z = 709.78

and extended_gradients, the same network in x87 extended precision (64-bit significand,
u = 2^-64) with accurate formulas: within 2^-11 of a float64 rounding of the exact gradient, it
stands in for the exact gradient when testing that the allowance bounds a correct one's error.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import reference
from reference.activations import ACTIVATIONS, LEAKY_SLOPE
from reference.network import Architecture
from reference.types import Array, Params

Gradients = Callable[[Architecture, Params, np.ndarray, np.ndarray], Params]
Product = Callable[[Array, Array], Array]  # A (n, k), B (k, m) -> A B (n, m)

# --- how the sums are taken -----------------------------------------------------------------


def _sequential(A: Array, B: Array, order: np.ndarray) -> Array:
    """A B as the sum over i in `order` of the outer products A[:, i] B[i, :], one at a time."""
    total = np.zeros((A.shape[0], B.shape[1]), dtype=np.result_type(A, B))
    for i in order:
        total += A[:, i, None] * B[None, i, :]
    return total


def reversed_product(A: Array, B: Array) -> Array:
    return _sequential(A, B, np.arange(A.shape[1])[::-1])


def pairwise_product(A: Array, B: Array) -> Array:
    """np.sum over the contiguous last axis of A_ri B_ij, which NumPy sums pairwise."""
    terms = np.ascontiguousarray(A[:, None, :] * B.T[None, :, :])  # (n, m, k)
    return terms.sum(axis=-1)


_SHUFFLE = np.random.default_rng(20240611)  # a new order on every call, reproducible per run


def shuffled_product(A: Array, B: Array) -> Array:
    return _sequential(A, B, _SHUFFLE.permutation(A.shape[1]))


def blas_product(A: Array, B: Array) -> Array:
    return A @ B


# --- activations: accurate ones (the reference's) and textbook ones -------------------------

Pair = tuple[Callable[[Array], Array], Callable[[Array], Array]]  # (phi, dphi)


def _one(z: Array) -> Array:
    return np.ones_like(z)


def _half_tanh_sigmoid(z: Array) -> Array:
    """sigma(z) = 0.5 (1 + tanh(z/2)): off by ULPs of 1 where sigma is tiny."""
    return 0.5 * (1 + np.tanh(0.5 * z))


def _textbook_dsigmoid(z: Array) -> Array:
    s = _half_tanh_sigmoid(z)
    return s * (1 - s)


def _textbook_dtanh(z: Array) -> Array:
    t = np.tanh(z)
    return 1 - t * t


def _textbook_softplus(z: Array) -> Array:
    """log(1 + e^z), arranged as max(z, 0) + log(1 + e^-|z|) so that it does not overflow;
    log(1 + tiny) keeps only ULPs of 1, as the plain formula does in its left tail."""
    return np.maximum(z, 0) + np.log(1 + np.exp(-np.abs(z)))


def _textbook_elu(z: Array) -> Array:
    return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)


def _textbook_delu(z: Array) -> Array:
    """elu'(z) = elu(z) + 1 for z <= 0 (ELU paper's form), 1 for z > 0; elu'(0) = 1."""
    return np.where(z > 0, 1.0, _textbook_elu(z) + 1).astype(z.dtype)


_K0, _K1 = math.sqrt(2 / math.pi), 0.044715


def _textbook_gelu(z: Array) -> Array:
    return 0.5 * z * (1 + np.tanh(_K0 * (z + _K1 * z**3)))


def _textbook_dgelu(z: Array) -> Array:
    """(1 + t)/2 + z (1 - t^2) K0 (1 + 3 K1 z^2) / 2, as PyTorch's backward writes it."""
    t = np.tanh(_K0 * (z + _K1 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * (_K0 * (1 + 3 * _K1 * z * z))


def _relu(z: Array) -> Array:
    return np.where(z > 0, z, 0).astype(z.dtype)


def _drelu(z: Array) -> Array:
    return (z > 0).astype(z.dtype)


def _drelu_one_at_zero(z: Array) -> Array:
    """The planted bug: relu'(0) = 1."""
    return (z >= 0).astype(z.dtype)


def _leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z).astype(z.dtype)


def _dleaky(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def _exp_tanh(z: Array) -> Array:
    """tanh z = 2 / (1 + e^-2z) - 1: ULPs of 1 near z = 0, where tanh z is small."""
    with np.errstate(over="ignore"):
        return 2 / (1 + np.exp(-2 * z)) - 1


def _exp_dtanh(z: Array) -> Array:
    t = _exp_tanh(z)
    return 1 - t * t


def _exp_sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z); for z < -709 e^-z overflows to inf and 1 / inf = 0, the right value."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _exp_dsigmoid(z: Array) -> Array:
    return _exp_sigmoid(z) * _exp_sigmoid(-z)


_EXP_OVERFLOWS = 700.0  # e^z is finite up to z = 709.78; softplus(z) = z to the last bit past 37


def _log_softplus(z: Array) -> Array:
    """log(1 + e^z) where e^z does not overflow, z beyond (where log(1 + e^z) = z exactly)."""
    return np.where(z > _EXP_OVERFLOWS, z, np.log(1 + np.exp(np.minimum(z, _EXP_OVERFLOWS))))


def _exp_elu(z: Array) -> Array:
    return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)


def _exp_delu(z: Array) -> Array:
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))


def _exp_gelu(z: Array) -> Array:
    return 0.5 * z * (1 + _exp_tanh(_K0 * (z + _K1 * z**3)))


def _exp_dgelu(z: Array) -> Array:
    t = _exp_tanh(_K0 * (z + _K1 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * (_K0 * (1 + 3 * _K1 * z * z))


def _one_minus_tanh(z: Array) -> Array:
    """tanh z = 1 - 2 / (e^2z + 1): e^2z may overflow to inf, and 1 - 0 = 1 is right."""
    with np.errstate(over="ignore"):
        return 1 - 2 / (np.exp(2 * z) + 1)


def _one_minus_dtanh(z: Array) -> Array:
    t = _one_minus_tanh(z)
    return 1 - t * t


ACCURATE: dict[str, Pair] = {name: (a.phi, a.dphi) for name, a in ACTIVATIONS.items()}
TEXTBOOK: dict[str, Pair] = {
    "identity": (lambda z: z, _one),
    "sigmoid": (_half_tanh_sigmoid, _textbook_dsigmoid),
    "tanh": (np.tanh, _textbook_dtanh),
    "relu": (_relu, _drelu),
    "leaky_relu": (_leaky, _dleaky),
    "softplus": (_textbook_softplus, _half_tanh_sigmoid),
    "elu": (_textbook_elu, _textbook_delu),
    "gelu_tanh": (_textbook_gelu, _textbook_dgelu),
}

EXP_FORMULAS: dict[str, Pair] = {
    "identity": (lambda z: z, _one),
    "sigmoid": (_exp_sigmoid, _exp_dsigmoid),
    "tanh": (_exp_tanh, _exp_dtanh),
    "relu": (_relu, _drelu),
    "leaky_relu": (_leaky, _dleaky),
    "softplus": (_log_softplus, _exp_sigmoid),
    "elu": (_exp_elu, _exp_delu),
    "gelu_tanh": (_exp_gelu, _exp_dgelu),
}

# --- losses: dE/dh^L without the 1/n --------------------------------------------------------


def _naive_softmax_minus_onehot(h: Array, y: np.ndarray) -> Array:
    """softmax(h) - onehot(y), the softmax shifted by the row maximum, then 1 subtracted at
    the label: off by ULPs of 1 there."""
    e = np.exp(h - h.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(h.shape[0]), y] -= 1
    return p


def _logsumexp_softmax_minus_onehot(h: Array, y: np.ndarray) -> Array:
    """exp(h - logsumexp(h)) - onehot(y), logsumexp = m + log sum e^(h - m)."""
    m = h.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(h - m).sum(axis=1, keepdims=True))
    p = np.exp(h - lse)
    p[np.arange(h.shape[0]), y] -= 1
    return p


TEXTBOOK_LOSSES: dict[str, Callable[[Array, np.ndarray], Array]] = {
    "squared_error": lambda h, y: h - y,
    "cross_entropy": _naive_softmax_minus_onehot,
    "binary_cross_entropy": lambda h, y: _half_tanh_sigmoid(h) - y,
}
LOGSUMEXP_LOSSES = {**TEXTBOOK_LOSSES, "cross_entropy": _logsumexp_softmax_minus_onehot}
EXP_LOSSES = {**TEXTBOOK_LOSSES, "binary_cross_entropy": lambda h, y: _exp_sigmoid(h) - y}


def _accurate_loss(name: str) -> Callable[[Array, np.ndarray], Array]:
    grad = reference.LOSSES[name].grad
    return lambda h, y: grad(h, y) * h.shape[0]


ACCURATE_LOSSES = {name: _accurate_loss(name) for name in reference.LOSSES}


# --- one numpy backprop, parameterised by how it rounds -------------------------------------


@dataclass(frozen=True)
class Variant:
    """A NumPy backprop that follows the seed's equations with its own rounding choices.

    product: how A B is summed; activations, losses: the formulas (losses without the 1/n);
    dtype: what it computes in (the result is returned as float64 if round_result);
    scale_at_end: apply the 1/n of the mean to the gradients rather than to dE/dh^L.
    """

    name: str
    product: Product = blas_product
    activations: dict[str, Pair] = field(default_factory=lambda: ACCURATE)
    losses: dict[str, Callable[[Array, np.ndarray], Array]] = field(
        default_factory=lambda: ACCURATE_LOSSES
    )
    dtype: type = np.float64
    scale_at_end: bool = False
    round_result: bool = True

    def __call__(self, arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
        dtype, product = self.dtype, self.product
        params = [(W.astype(dtype), b.astype(dtype)) for W, b in params]
        h, z = {0: x.astype(dtype)}, {}
        for l in range(1, arch.L + 1):
            W, b = params[l - 1]  # layer l is params[l - 1]
            z[l] = product(h[l - 1], W) + b
            h[l] = self.activations[arch.activations[l - 1]][0](z[l])
        y = y if arch.loss == "cross_entropy" else y.astype(dtype)
        n = x.shape[0]
        dE_dh = self.losses[arch.loss](h[arch.L], y)
        if not self.scale_at_end:
            dE_dh = dE_dh / dtype(n)
        delta = self.activations[arch.activations[-1]][1](z[arch.L]) * dE_dh
        grads: Params = [None] * arch.L  # type: ignore[list-item]
        ones = np.ones((1, n), dtype=dtype)
        for l in range(arch.L, 0, -1):
            grad_W = product(h[l - 1].T, delta)
            grad_b = product(ones, delta)[0]
            if self.scale_at_end:
                grad_W, grad_b = grad_W / dtype(n), grad_b / dtype(n)
            if self.round_result:
                grad_W, grad_b = grad_W.astype(np.float64), grad_b.astype(np.float64)
            grads[l - 1] = (grad_W, grad_b)
            if l > 1:
                W = params[l - 1][0]  # W^l carries delta^l back to layer l - 1
                dphi = self.activations[arch.activations[l - 2]][1]
                delta = dphi(z[l - 1]) * product(delta, W.T)
        return grads


plain = Variant("plain")  # BLAS products and the reference's formulas: the bugs' baseline
reversed_order = Variant("reversed_order", product=reversed_product)
pairwise_sum = Variant("pairwise_sum", product=pairwise_product)
shuffled_order = Variant("shuffled_order", product=shuffled_product)
textbook = Variant("textbook", activations=TEXTBOOK, losses=TEXTBOOK_LOSSES)
logsumexp = Variant("logsumexp", activations=TEXTBOOK, losses=LOGSUMEXP_LOSSES, scale_at_end=True)
float32_inside = Variant(
    "float32_inside", activations=TEXTBOOK, losses=TEXTBOOK_LOSSES, dtype=np.float32
)
relu_prime_one = Variant(
    "relu_prime_one", activations={**ACCURATE, "relu": (_relu, _drelu_one_at_zero)}
)


exp_formulas = Variant("exp_formulas", activations=EXP_FORMULAS, losses=EXP_LOSSES)
_per_row = Variant("per_row", activations=TEXTBOOK, losses=TEXTBOOK_LOSSES)


def per_example(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    """sum_i dL_i/dtheta, one backprop per row i (a batch of one, whose mean is L_i), then / n."""
    n = x.shape[0]
    total = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    for i in range(n):
        row = _per_row(arch, params, x[i : i + 1], y[i : i + 1])
        total = [(tW + gW, tb + gb) for (tW, tb), (gW, gb) in zip(total, row, strict=True)]
    return [(tW / n, tb / n) for tW, tb in total]


COLUMN_FORMULAS: dict[str, Pair] = {**TEXTBOOK, "tanh": (_one_minus_tanh, _one_minus_dtanh)}


def column_vectors(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    """The seed's equations with examples as columns: h^l is (n_l, n), z^l = (W^l)^T h^{l-1}
    + b^l, delta^l = phi'(z^l) * (W^{l+1} delta^{l+1}), dE/dW^l = h^{l-1} (delta^l)^T,
    dE/db^l = delta^l 1 (row sums)."""
    n = x.shape[0]
    h, z = {0: x.T}, {}
    for l in range(1, arch.L + 1):
        W, b = params[l - 1]  # layer l is params[l - 1]
        z[l] = W.T @ h[l - 1] + b[:, None]
        h[l] = COLUMN_FORMULAS[arch.activations[l - 1]][0](z[l])
    dE_dh = TEXTBOOK_LOSSES[arch.loss](h[arch.L].T, y).T / n  # (n_L, n)
    delta = COLUMN_FORMULAS[arch.activations[-1]][1](z[arch.L]) * dE_dh
    grads: Params = [None] * arch.L  # type: ignore[list-item]
    for l in range(arch.L, 0, -1):
        grads[l - 1] = (h[l - 1] @ delta.T, delta.sum(axis=1))
        if l > 1:
            W = params[l - 1][0]  # W^l carries delta^l back to layer l - 1
            delta = COLUMN_FORMULAS[arch.activations[l - 2]][1](z[l - 1]) * (W @ delta)
    return grads


def _overflowing_sigmoid(z: Array) -> Array:
    """e^z / (1 + e^z): NaN once e^z overflows (z > 709.78), where sigma(z) is 1."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / (1 + e)


def _overflowing_dsigmoid(z: Array) -> Array:
    s = _overflowing_sigmoid(z)
    return s * (1 - s)


def _overflowing_softplus(z: Array) -> Array:
    """log(1 + e^z) where e^z overflows too: inf past z = 709.78."""
    with np.errstate(over="ignore"):
        return np.log(1 + np.exp(z))


overflowing_sigmoid = Variant(
    "overflowing_sigmoid",
    activations={**TEXTBOOK, "sigmoid": (_overflowing_sigmoid, _overflowing_dsigmoid)},
    losses={**TEXTBOOK_LOSSES, "binary_cross_entropy": lambda h, y: _overflowing_sigmoid(h) - y},
)
overflowing_softplus = Variant(
    "overflowing_softplus",
    activations={**TEXTBOOK, "softplus": (_overflowing_softplus, _half_tanh_sigmoid)},
)


def relative_error(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    """The reference's gradient, every entry times (1 + 1e-6)."""
    return [
        (dW * (1 + 1e-6), db * (1 + 1e-6)) for dW, db in reference.gradients(arch, params, x, y)
    ]


# --- torch.autograd -------------------------------------------------------------------------


def torch_gradients(
    arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray, dtype: str = "float64"
) -> Params:
    """The network in torch (dtype "float64" or "float32"), differentiated by torch.autograd."""
    import torch
    import torch.nn.functional as F  # noqa: N812 (torch's usual name)

    tdtype = getattr(torch, dtype)
    phi = {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_SLOPE),
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),  # exact, no cut-off
        "elu": F.elu,
        "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    }
    leaves = [torch.tensor(a, dtype=tdtype, requires_grad=True) for layer in params for a in layer]
    h = torch.tensor(x, dtype=tdtype)
    for l in range(1, arch.L + 1):
        W, b = leaves[2 * (l - 1)], leaves[2 * (l - 1) + 1]  # layer l
        h = phi[arch.activations[l - 1]](h @ W + b)
    n = x.shape[0]
    if arch.loss == "squared_error":
        E = 0.5 * ((h - torch.tensor(y, dtype=tdtype)) ** 2).sum() / n
    elif arch.loss == "cross_entropy":
        E = F.cross_entropy(h, torch.tensor(y), reduction="sum") / n
    else:
        E = (
            F.binary_cross_entropy_with_logits(h, torch.tensor(y, dtype=tdtype), reduction="sum")
            / n
        )
    grads = torch.autograd.grad(E, leaves)
    as_numpy = [g.detach().to(torch.float64).numpy() for g in grads]
    return [(as_numpy[2 * i], as_numpy[2 * i + 1]) for i in range(arch.L)]


def torch_float32(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    return torch_gradients(arch, params, x, y, dtype="float32")


# --- HIPS autograd --------------------------------------------------------------------------


def hips_gradients(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    """E written in autograd.numpy with the textbook formulas, differentiated by autograd.

    relu and the others are written with np.where on z > 0, whose gradient follows PyTorch's
    kink conventions (autograd's np.maximum would split a tie, giving relu'(0) = 1/2).
    """
    import autograd
    import autograd.numpy as anp

    def elu(z):
        negative = anp.where(z > 0, 0.0, z)
        return anp.where(z > 0, z, anp.expm1(negative))

    phi = {
        "identity": lambda z: z,
        "sigmoid": lambda z: 0.5 * (1 + anp.tanh(0.5 * z)),
        "tanh": anp.tanh,
        "relu": lambda z: anp.where(z > 0, z, 0.0),
        "leaky_relu": lambda z: anp.where(z > 0, z, LEAKY_SLOPE * z),
        "softplus": lambda z: anp.logaddexp(0.0, z),
        "elu": elu,
        "gelu_tanh": lambda z: 0.5 * z * (1 + anp.tanh(_K0 * (z + _K1 * z**3))),
    }

    def E(flat):
        h = x
        for l in range(1, arch.L + 1):
            W, b = flat[2 * (l - 1)], flat[2 * (l - 1) + 1]  # layer l
            h = phi[arch.activations[l - 1]](anp.dot(h, W) + b)
        n = x.shape[0]
        if arch.loss == "squared_error":
            return 0.5 * anp.sum((h - y) ** 2) / n
        if arch.loss == "cross_entropy":
            m = anp.max(h, axis=1, keepdims=True)
            lse = m + anp.log(anp.sum(anp.exp(h - m), axis=1, keepdims=True))
            return anp.sum(lse[:, 0] - h[np.arange(n), y]) / n
        return anp.sum(anp.logaddexp(0.0, h) - y * h) / n

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grads = autograd.grad(E)([a for layer in params for a in layer])
    return [(grads[2 * i], grads[2 * i + 1]) for i in range(arch.L)]


# --- extended precision: a stand-in for the exact gradient ----------------------------------

_LD = np.longdouble


def _ld_sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _ld_dsigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return e / (1 + e) ** 2


def _ld_dtanh(z: Array) -> Array:
    e = np.exp(-2 * np.abs(z))
    return 4 * e / (1 + e) ** 2


_LD_K0 = np.sqrt(_LD(2) / _LD("3.14159265358979323846264338327950288"))
_LD_K1 = _LD(0.044715)  # the float64 constant, as every float64 implementation holds it


def _ld_gelu_v(z: Array) -> tuple[Array, Array]:
    """v = 2 K0 (z + K1 z^3) and dv/dz: gelu_tanh(z) = z sigma(v)."""
    return 2 * _LD_K0 * (z + _LD_K1 * z**3), 2 * _LD_K0 * (1 + 3 * _LD_K1 * z**2)


def _ld_gelu(z: Array) -> Array:
    return z * _ld_sigmoid(_ld_gelu_v(z)[0])


def _ld_dgelu(z: Array) -> Array:
    v, dv = _ld_gelu_v(z)
    return _ld_sigmoid(v) + z * dv * _ld_dsigmoid(v)


EXTENDED: dict[str, Pair] = {
    "identity": (lambda z: z, _one),
    "sigmoid": (_ld_sigmoid, _ld_dsigmoid),
    "tanh": (np.tanh, _ld_dtanh),
    "relu": (_relu, _drelu),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, _LD(LEAKY_SLOPE) * z),
        lambda z: np.where(z > 0, _LD(1), _LD(LEAKY_SLOPE)),
    ),
    "softplus": (lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), _ld_sigmoid),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z: np.where(z > 0, _LD(1), np.exp(np.minimum(z, 0))),
    ),
    "gelu_tanh": (_ld_gelu, _ld_dgelu),
}


def _ld_softmax_minus_onehot(h: Array, y: np.ndarray) -> Array:
    rows = np.arange(h.shape[0])
    e = np.exp(h - h.max(axis=1, keepdims=True))
    total = e.sum(axis=1)
    others = total - e[rows, y]  # exact enough: u_extended relative to the total
    g = e / total[:, None]
    g[rows, y] = -others / total
    return g


EXTENDED_LOSSES = {
    "squared_error": lambda h, y: h - y,
    "cross_entropy": _ld_softmax_minus_onehot,
    "binary_cross_entropy": lambda h, y: _ld_sigmoid(h) - y,
}

extended_gradients = Variant(
    "extended", activations=EXTENDED, losses=EXTENDED_LOSSES, dtype=_LD, round_result=False
)
"""The gradient in extended precision, returned in extended precision (not rounded)."""


CORRECT: dict[str, Gradients] = {
    "reversed_order": reversed_order,
    "pairwise_sum": pairwise_sum,
    "shuffled_order": shuffled_order,
    "textbook": textbook,
    "logsumexp": logsumexp,
    "exp_formulas": exp_formulas,
    "column_vectors": column_vectors,
    "per_example": per_example,
    "torch_autograd": torch_gradients,
}
try:
    import autograd  # noqa: F401

    CORRECT["hips_autograd"] = hips_gradients
except ImportError:  # an optional test dependency
    pass

BROKEN: dict[str, Gradients] = {
    "relative_error": relative_error,
    "float32_inside": float32_inside,
    "relu_prime_one": relu_prime_one,
    "overflowing_sigmoid": overflowing_sigmoid,
    "overflowing_softplus": overflowing_softplus,
}
