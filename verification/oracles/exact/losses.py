"""The losses of docs/contract.md, section 3 in ball arithmetic: (h^L, y) -> (n E, n dE/dh^L),
the sums over the batch (the table LOSSES); the 1/n of the batch mean is applied later
(verification.oracles.exact.network).

Where the formulas differ from the textbook, they avoid a cancellation that no affordable
precision would resolve (sigma(h) - 1 at h = 1e6 needs 1.4 million bits): the binary
cross-entropy as (1 - y) softplus(h) + y softplus(-h), and the cross-entropy through the
differences h_j - h_y of the logits.
"""

from collections.abc import Callable, Sequence

import numpy as np
from flint import arb

from verification.oracles.exact.activations import ACTIVATIONS
from verification.oracles.exact.balls import Balls, elementwise, exact_balls

# sigma and softplus on one ball, as the table of activations holds them
_sigmoid = ACTIVATIONS["sigmoid"].phi
_softplus = ACTIVATIONS["softplus"].phi


def _squared_error(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_i 1/2 sum_k (h_ik - y_ik)^2 and n dE/dh^L = h^L - y.

    Shapes: h (n, n_L), y (n, n_L) -> (scalar, (n, n_L)).
    """
    d = h - exact_balls(y)
    return _sum(d * d) / 2, d


def _cross_entropy(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_i -log softmax(h_i)_{y_i} and n dE/dh^L = softmax(h^L) - onehot(y).

    Through the differences d_ij = h_ij - h_{i,y_i} and S_i = sum_{j != y_i} e^{d_ij}:
    -log softmax(h_i)_{y_i} = log1p(S_i), softmax(h_i)_j = e^{d_ij} / (1 + S_i) for j != y_i,
    and softmax(h_i)_{y_i} - 1 = -S_i / (1 + S_i), with no cancellation anywhere.
    Shapes: h (n, n_L), y (n,) integer labels -> (scalar, (n, n_L)).
    """
    width = h.shape[1]
    g = np.empty(h.shape, dtype=object)
    losses = []
    for i, label in enumerate(int(c) for c in y):
        e = [(h[i, j] - h[i, label]).exp() for j in range(width)]
        S = _sum_list([e[j] for j in range(width) if j != label])
        total = 1 + S
        losses.append(S.log1p())
        for j in range(width):
            g[i, j] = (-S if j == label else e[j]) / total
    return _sum_list(losses), g


def _binary_cross_entropy(h: Balls, y: np.ndarray) -> tuple[arb, Balls]:
    """n E = sum_ik softplus(h_ik) - y_ik h_ik and n dE/dh^L = sigma(h^L) - y.

    As (1 - y) softplus(h) + y softplus(-h) (softplus(h) - h = softplus(-h)) and
    (1 - y) sigma(h) - y sigma(-h): a sum of nonnegative terms, and a difference that cancels
    only where the exact gradient is small against sigma(h) itself.
    Shapes: h (n, n_L), y (n, n_L) in [0, 1] -> (scalar, (n, n_L)).
    """
    Y = exact_balls(y)
    not_Y = elementwise(lambda t: 1 - t, Y)
    per_entry = not_Y * elementwise(_softplus, h) + Y * elementwise(_softplus, -h)
    g = not_Y * elementwise(_sigmoid, h) - Y * elementwise(_sigmoid, -h)
    return _sum(per_entry), g


LOSSES: dict[str, Callable[[Balls, np.ndarray], tuple[arb, Balls]]] = {
    "squared_error": _squared_error,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}
"""Each loss (docs/contract.md, section 3) in ball arithmetic: (h^L, y) -> (n E, n dE/dh^L),
the batch sums; the 1/n of the batch mean is applied when the results are built
(_backprop_at, verification.oracles.exact.network)."""


def _sum_list(terms: Sequence[arb]) -> arb:
    total = arb(0)
    for t in terms:
        total += t
    return total


def _sum(balls: Balls) -> arb:
    return _sum_list(list(balls.ravel()))
