"""The torch mirror: the same network and losses written again in torch, differentiated by autograd.

It repeats the seed's equations with the same names, examples as rows, in float64:

    z^l = h^{l-1} W^l + b^l,   h^l = phi_l(z^l),   E = (1/n) sum_i L(h^L_i, y_i)

and asks torch.autograd for dE/dW^l, dE/db^l and delta^l = dE/dz^l (the gradient of E with
respect to each intermediate z^l). Nothing of the reference is used but the names in `arch`
(sizes, activations, loss): every phi is torch's own, and every loss is torch.nn.functional's
with its reduction spelled out. It is an oracle independent of the reference's code, though it
shares its conventions: the kinks follow PyTorch (relu'(0) = 0, leaky_relu'(0) = 0.01,
elu'(0) = 1), softplus is exact everywhere (not F.softplus, which turns into the identity above
z = 20), and gelu_tanh is F.gelu(approximate="tanh").

torch's own derivatives are the textbook ones (tanh' = 1 - tanh^2, sigma' = sigma (1 - sigma)),
which lose their relative accuracy where units saturate; compare them with a tolerance that
allows for it (see verification.judge.compare), not an rtol alone.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own name for it)

LEAKY_SLOPE = 0.01  # torch's default negative_slope, named here as the contract states it
ELU_ALPHA = 1.0


def _softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z) = logaddexp(z, 0), exact for every z (F.softplus cuts over at z = 20)."""
    return torch.logaddexp(z, torch.zeros_like(z))


PHI: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=LEAKY_SLOPE),
    "softplus": _softplus,
    "elu": lambda z: F.elu(z, alpha=ELU_ALPHA),
    "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
}
"""phi_l for each activation name of docs/contract.md, section 2, in torch."""


def _squared_error(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E = (1/n) sum_i 1/2 sum_k (h_ik - y_ik)^2: the 1/2 and the batch mean made explicit."""
    n = h.shape[0]
    return F.mse_loss(h, y, reduction="sum") / 2 / n


def _cross_entropy(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E = (1/n) sum_i -log softmax(h_i)_{y_i}; h^L are logits, y integer labels."""
    return F.cross_entropy(h, y, reduction="mean")


def _binary_cross_entropy(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E = (1/n) sum_i sum_k (softplus(h_ik) - y_ik h_ik): summed over outputs, mean over rows."""
    n = h.shape[0]
    return F.binary_cross_entropy_with_logits(h, y, reduction="sum") / n


LOSS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "squared_error": _squared_error,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}
"""E(h^L, y) for each loss name of docs/contract.md, section 3, in torch."""


@dataclass(frozen=True)
class TorchBackprop:
    """What autograd computes for one batch, as float64 NumPy arrays.

    E: the error; grads: [(dE/dW^l, dE/db^l) for l = 1..L] with the shapes of W^l and b^l;
    delta[l] = dE/dz^l, shape (n, n_l), for l = 1..L.
    """

    E: float
    grads: list[tuple[np.ndarray, np.ndarray]]
    delta: dict[int, np.ndarray]


def _tensor(a: object) -> torch.Tensor:
    """A float64 leaf that autograd tracks; a copy, so the caller's array is never touched."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=True)


def _targets(loss: str, y: object) -> torch.Tensor:
    if loss == "cross_entropy":
        return torch.tensor(np.asarray(y), dtype=torch.long)
    return torch.tensor(np.asarray(y, dtype=np.float64), dtype=torch.float64)


def torch_backprop(arch, params, x, y) -> TorchBackprop:
    """E, dE/dW^l, dE/db^l and delta^l = dE/dz^l from torch.autograd, in float64.

    arch supplies only names: arch.sizes, arch.activations, arch.loss. params is a list of L
    pairs (W^l, b^l) (layer l is params[l - 1]), x is (n, n_0), y as the loss wants. Nothing
    passed in is modified: W, b, x, y are copied into new tensors.
    """
    L = len(arch.sizes) - 1
    W = [_tensor(W_l) for W_l, _ in params]  # W[l - 1] is W^l
    b = [_tensor(b_l) for _, b_l in params]
    h = torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64)  # h^0 = x
    z = []  # z[l - 1] is z^l
    for l in range(1, L + 1):
        z_l = h @ W[l - 1] + b[l - 1]  # z^l = h^{l-1} W^l + b^l
        z.append(z_l)
        h = PHI[arch.activations[l - 1]](z_l)  # h^l = phi_l(z^l)
    E = LOSS[arch.loss](h, _targets(arch.loss, y))
    derivatives = torch.autograd.grad(E, [*W, *b, *z])
    grad_W, grad_b, delta = derivatives[:L], derivatives[L : 2 * L], derivatives[2 * L :]
    return TorchBackprop(
        E=E.item(),
        grads=[(gW.numpy(), gb.numpy()) for gW, gb in zip(grad_W, grad_b, strict=True)],
        delta={l: d.numpy() for l, d in enumerate(delta, start=1)},
    )
