"""The losses: E = (1/n) sum_i L(h^L_i, y_i) and dE/dh^L (docs/contract.md, section 3).

E is the batch MEAN, so every dE/dh^L carries the factor 1/n. The cross-entropies take logits:
h^L is the raw output of the last layer, and the softmax or sigmoid lives inside the loss.
`value` accepts complex h (for complex-step differentiation); `grad` needs real h.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.activations import sigmoid, softplus
from reference.types import Array


@dataclass(frozen=True)
class Loss:
    """E = value(h, y) and dE/dh^L = grad(h, y) for h = h^L of shape (n, n_L).

    `per_example(h, y)` is L(h^L_i, y_i) for each row, shape (n,); E is its mean. Any leading
    axes broadcast (h of shape (..., n, n_L)), which the finite differences use to evaluate
    many perturbed networks at once.

    `check_targets(y, n, n_L)` raises ValueError or TypeError if y is not a valid target for
    this loss; `targets` says in words what is valid.
    """

    name: str
    per_example: Callable[[Array, np.ndarray], Array]
    value: Callable[[Array, np.ndarray], float | complex]
    grad: Callable[[Array, np.ndarray], Array]
    check_targets: Callable[[np.ndarray, int, int], None]
    targets: str


# --- squared_error --------------------------------------------------------------------------


def _squared_error_rows(h: Array, y: np.ndarray) -> Array:
    """L_i = 1/2 sum_k (h_ik - y_ik)^2 (a square, not |.|^2, so complex steps work)."""
    d = h - y
    return (d * d).sum(axis=-1) / 2


def _squared_error(h: Array, y: np.ndarray) -> float | complex:
    """E = (1/n) sum_i 1/2 sum_k (h_ik - y_ik)^2."""
    return _squared_error_rows(h, y).sum() / h.shape[0]


def _squared_error_grad(h: Array, y: np.ndarray) -> Array:
    """dE/dh^L = (h^L - y) / n."""
    return (h - y) / h.shape[0]


# --- cross_entropy (softmax over the logits h^L, integer labels) ----------------------------


def _rows(h: Array) -> np.ndarray:
    return np.arange(h.shape[0])


def _cross_entropy_rows(h: Array, y: np.ndarray) -> Array:
    """L_i = logsumexp(h_i) - h_i,y_i, shifted by the row maximum of Re h."""
    m = h.real.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(h - m).sum(axis=-1))
    return lse - np.take_along_axis(h, np.broadcast_to(y[:, None], (*h.shape[:-1], 1)), -1)[..., 0]


def _cross_entropy(h: Array, y: np.ndarray) -> float | complex:
    """E = (1/n) sum_i (logsumexp(h_i) - h_i,y_i)."""
    return _cross_entropy_rows(h, y).sum() / h.shape[0]


def _cross_entropy_grad(h: Array, y: np.ndarray) -> Array:
    """dE/dh^L = (softmax(h^L) - onehot(y)) / n.

    At the label, softmax - 1 is computed as -(sum of the other exponentials) / (sum of all),
    so that it keeps its relative accuracy when the label's probability is close to 1.
    """
    rows = _rows(h)
    with np.errstate(over="ignore"):  # h - max(h) = -inf only where e^(h - max) is 0 anyway
        e = np.exp(h - h.max(axis=1, keepdims=True))
    total = e.sum(axis=1)
    at_label = e[rows, y]
    e[rows, y] = 0
    others = e.sum(axis=1)
    e[rows, y] = at_label
    grad = e / total[:, None]
    grad[rows, y] = -others / total
    grad /= h.shape[0]
    return grad


def _check_labels(y: np.ndarray, n: int, width: int) -> None:
    if y.shape != (n,):
        raise ValueError(
            f"y has shape {y.shape}, but should be ({n},): one integer label per row of x "
            "for cross_entropy"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"y has dtype {y.dtype}, but cross_entropy needs integer labels in [0, {width}); "
            "convert with y.astype(int) if they are whole numbers"
        )
    bad = np.flatnonzero((y < 0) | (y >= width))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"y[{i}] = {y[i]}, but cross_entropy labels should lie in [0, {width}), "
            f"one per output neuron of h^L ({bad.size} labels out of range)"
        )


# --- binary_cross_entropy (independent sigmoids over the logits h^L) ------------------------


def _binary_cross_entropy_rows(h: Array, y: np.ndarray) -> Array:
    """L_i = sum_k (softplus(h_ik) - y_ik h_ik)."""
    return (softplus(h) - y * h).sum(axis=-1)


def _binary_cross_entropy(h: Array, y: np.ndarray) -> float | complex:
    """E = (1/n) sum_i sum_k (softplus(h_ik) - y_ik h_ik)."""
    return _binary_cross_entropy_rows(h, y).sum() / h.shape[0]


def _binary_cross_entropy_grad(h: Array, y: np.ndarray) -> Array:
    """dE/dh^L = (sigma(h^L) - y) / n."""
    return (sigmoid(h) - y) / h.shape[0]


def _check_float_targets(y: np.ndarray, n: int, width: int, loss: str) -> None:
    if y.shape != (n, width):
        raise ValueError(
            f"y has shape {y.shape}, but should be ({n}, {width}) to match h^L "
            f"({n} rows of x, n_L = {width}) for {loss}"
        )
    if y.dtype.kind not in "fiu":
        raise TypeError(f"y has dtype {y.dtype}, but {loss} needs real numbers")


def _check_regression_targets(y: np.ndarray, n: int, width: int) -> None:
    _check_float_targets(y, n, width, "squared_error")


def _check_probabilities(y: np.ndarray, n: int, width: int) -> None:
    _check_float_targets(y, n, width, "binary_cross_entropy")
    bad = np.argwhere((y < 0) | (y > 1))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"y{list(where)} = {y[where]}, but binary_cross_entropy targets should lie in "
            f"[0, 1] ({len(bad)} out of range)"
        )


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "squared_error",
            _squared_error_rows,
            _squared_error,
            _squared_error_grad,
            _check_regression_targets,
            "float (n, n_L)",
        ),
        Loss(
            "cross_entropy",
            _cross_entropy_rows,
            _cross_entropy,
            _cross_entropy_grad,
            _check_labels,
            "integer labels (n,) in [0, n_L)",
        ),
        Loss(
            "binary_cross_entropy",
            _binary_cross_entropy_rows,
            _binary_cross_entropy,
            _binary_cross_entropy_grad,
            _check_probabilities,
            "float (n, n_L) in [0, 1]",
        ),
    )
}
"""Each loss name of docs/contract.md, section 3, mapped to its E and dE/dh^L."""
