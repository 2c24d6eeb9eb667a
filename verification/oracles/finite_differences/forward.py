"""The unperturbed forward pass (_Trace, _forward), and the reach of each unit: how far a step
may move it, 1 / (MAX_MOVE max(|z|, 1)) for a unit of a curved phi or a logit of a
cross-entropy."""

from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Params
from verification.oracles.finite_differences.constants import MAX_MOVE
from verification.oracles.rounding import ROUNDING


@dataclass(frozen=True)
class _Trace:
    """The unperturbed forward pass: h[l] for l = 0..L, z[l] for l = 1..L, row losses, and
    reach[m] for m = 1..L + 1: 1 / (MAX_MOVE max(|z^m|, 1)) per unit of a curved phi (0 on an
    affine piece), and for m = L + 1 the same per logit of a cross-entropy (_loss_reach); None
    where no unit of that layer is curved."""

    h: dict[int, np.ndarray]
    z: dict[int, np.ndarray]
    losses: np.ndarray  # L(h^L_i, y_i), shape (n,)
    reach: dict[int, np.ndarray | None]


def _forward(arch, params: Params, x: np.ndarray, y: np.ndarray) -> _Trace:
    """z^l = h^{l-1} W^l + b^l, h^l = phi_l(z^l), with the reference's phi and loss."""
    h, z, reach = {0: x}, {}, {}
    for l in range(1, len(arch.sizes)):
        W, b = params[l - 1]  # layer l is params[l - 1]
        z[l] = h[l - 1] @ W + b
        name = arch.activations[l - 1]
        h[l] = ACTIVATIONS[name].phi(z[l])
        reach[l] = _inverse_room(z[l], ~ROUNDING[name].affine(z[l]))
    L = len(arch.sizes) - 1
    reach[L + 1] = _loss_reach(arch.loss, h[L])
    return _Trace(h, z, LOSSES[arch.loss].per_example(h[L], y), reach)


def _inverse_room(scale_of: np.ndarray, curved: np.ndarray) -> np.ndarray | None:
    """1 / (MAX_MOVE max(|scale_of|, 1)) where curved, else 0; None if nothing is curved."""
    if not curved.any():
        return None
    return np.where(curved, 1 / (MAX_MOVE * np.maximum(np.abs(scale_of), 1.0)), 0.0)


def _loss_reach(loss: str, h_L: np.ndarray) -> np.ndarray | None:
    """The reach of the logits h^L (n, n_L) in the loss, as for a unit of a curved phi.

    binary_cross_entropy is softplus(h) - y h: each logit a softplus unit, on the scale |h|.
    cross_entropy is log-sum-exp(h) - h_y: along logit k it is curved like a sigmoid of the gap
    d_k = h_k - max_{k' != k} h_k' (flat once the gap is large either way), so the scale is
    |d_k|. squared_error is a quadratic, which central differences take exactly.
    """
    if loss == "binary_cross_entropy":
        return _inverse_room(h_L, np.ones(h_L.shape, dtype=bool))
    if loss != "cross_entropy" or h_L.shape[1] == 1:  # one logit: L = 0, flat
        return None
    top_two = -np.sort(-h_L, axis=1)[:, :2]
    is_top = h_L == top_two[:, :1]
    gap = h_L - np.where(is_top, top_two[:, 1:], top_two[:, :1])
    return _inverse_room(gap, np.ones(h_L.shape, dtype=bool))
