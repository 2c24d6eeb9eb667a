"""The seed's equations in ball arithmetic, one function per equation, and exact_backprop: every
quantity of one case at one working precision, run again at twice the precision until all that
the caller needs is resolved.

The Ziv loop. The case is computed at START_BITS of working precision; if some entry that the
caller needs is not resolved, the whole case is computed again at twice the precision, up to
MAX_BITS. An entry still unresolved there is reported as such, with its ball: the gate can
still judge |got - exact| <= allowance on it rigorously (ExactArray.within).

The 1/n of the batch mean is applied last: backprop is linear in dE/dh^L, so the backward pass
carries n dE/dh^L, n delta^l, n dE/dW^l and n dE/db^l, each divided by n at the end. Where the
arithmetic is exact (relu, leaky_relu, identity and squared_error on dyadic data, as in the
gate's kinks regime) a sum D is an exact ball, and so is D / n whenever it is a dyadic number:
a float64 tie then rounds to even. Divided first, the same value would come as a sum of
inexact terms D_i / n whose ball straddles the tie at every precision (4 of 1,000 gate cases).
"""

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from flint import arb, arb_mat

from verification.oracles.exact.activations import ACTIVATIONS
from verification.oracles.exact.balls import Balls, elementwise, exact_balls
from verification.oracles.exact.inputs import ArchitectureLike, check_inputs
from verification.oracles.exact.losses import LOSSES
from verification.oracles.exact.precision import MAX_BITS, START_BITS, working_precision
from verification.oracles.exact.results import QUANTITIES, ExactArray, ExactBackprop

# --- the equations in ball arithmetic --------------------------------------------------------


def _matrix(balls: Balls) -> arb_mat:
    return arb_mat(balls.tolist())


def _entries(m: arb_mat) -> Balls:
    out = np.empty((m.nrows(), m.ncols()), dtype=object)
    out[...] = m.tolist()
    return out


def pre_activation(h_prev: arb_mat, W: arb_mat, b: Balls) -> Balls:
    """z^l = h^{l-1} W^l + b^l.

    Shapes: h_prev (n, n_{l-1}), W (n_{l-1}, n_l), b (n_l,) -> (n, n_l).
    """
    return _entries(h_prev * W) + b


def activate(z: Balls, phi: Callable[[arb], arb]) -> Balls:
    """h^l = phi_l(z^l), elementwise. Shapes: z (n, n_l) -> (n, n_l)."""
    return elementwise(phi, z)


def output_delta(z: Balls, dphi: Callable[[arb], arb], dE_dh: Balls) -> Balls:
    """delta^L = phi_L'(z^L) * dE/dh^L. Shapes: z (n, n_L), dE_dh (n, n_L) -> (n, n_L)."""
    return elementwise(dphi, z) * dE_dh


def hidden_delta(delta_next: Balls, W_next: arb_mat, z: Balls, dphi: Callable[[arb], arb]) -> Balls:
    """delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T.

    Shapes: delta_next (n, n_{l+1}), W_next (n_l, n_{l+1}), z (n, n_l) -> (n, n_l).
    """
    return elementwise(dphi, z) * _entries(_matrix(delta_next) * W_next.transpose())


def weight_gradient(h_prev: arb_mat, delta: Balls) -> Balls:
    """dE/dW^l = (h^{l-1})^T delta^l.

    Shapes: h_prev (n, n_{l-1}), delta (n, n_l) -> (n_{l-1}, n_l).
    """
    return _entries(h_prev.transpose() * _matrix(delta))


def bias_gradient(delta: Balls) -> Balls:
    """dE/db^l = 1^T delta^l, the column sums. Shapes: delta (n, n_l) -> (n_l,)."""
    n = delta.shape[0]
    return _entries(arb_mat([[1] * n]) * _matrix(delta))[0]


# --- one run at one precision, and the Ziv loop ----------------------------------------------


def _backprop_at(
    arch: ArchitectureLike,
    params: list[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    bits: int,
    bits_tried: tuple[int, ...],
    need: tuple[str, ...],
) -> ExactBackprop:
    """Every quantity of the seed in ball arithmetic at `bits` of working precision."""
    L = len(arch.sizes) - 1
    phi = {l: ACTIVATIONS[arch.activations[l - 1]] for l in range(1, L + 1)}
    with working_precision(bits):
        # layer l is params[l - 1]; every double is exact in arb
        W = {l: arb_mat(params[l - 1][0].tolist()) for l in range(1, L + 1)}
        b = {l: exact_balls(params[l - 1][1]) for l in range(1, L + 1)}
        h_mat = {0: arb_mat(x.tolist())}
        h, z = {0: exact_balls(x)}, {}
        for l in range(1, L + 1):
            z[l] = pre_activation(h_mat[l - 1], W[l], b[l])
            h[l] = activate(z[l], phi[l].phi)
            h_mat[l] = _matrix(h[l])
        # Backprop is linear in dE/dh^L, so the backward pass runs on the batch sums n dE/dh^L,
        # n delta^l, n dE/dW^l, n dE/db^l, and the 1/n of the batch mean comes last (module
        # docstring: a tie D / n stays exact)
        n_E, n_dE_dh = LOSSES[arch.loss](h[L], y)
        n_delta, n_grad_W, n_grad_b = {}, {}, {}
        n_delta[L] = output_delta(z[L], phi[L].dphi, n_dE_dh)
        for l in range(L, 0, -1):
            n_grad_W[l] = weight_gradient(h_mat[l - 1], n_delta[l])
            n_grad_b[l] = bias_gradient(n_delta[l])
            if l > 1:  # W^l carries delta^l back to layer l - 1
                n_delta[l - 1] = hidden_delta(n_delta[l], W[l], z[l - 1], phi[l - 1].dphi)
        n = x.shape[0]
        n_E_balls = np.empty((), dtype=object)
        n_E_balls[()] = n_E

        def mean(name: str, sums: Balls) -> ExactArray:
            """The batch mean sums / n (divided here, at this precision)."""
            balls = np.empty(sums.shape, dtype=object)
            balls[...] = sums / n
            return ExactArray(name, balls, bits)

        def means(name: str, sums: dict[int, Balls]) -> dict[int, ExactArray]:
            return {l: mean(f"{name}^{l}", sums[l]) for l in range(1, L + 1)}

        E = mean("E", n_E_balls)
        delta, grad_W, grad_b = (
            means("delta", n_delta),
            means("dE/dW", n_grad_W),
            means("dE/db", n_grad_b),
        )

    def exact(name: str, balls: dict[int, Balls], first: int = 1) -> dict[int, ExactArray]:
        return {l: ExactArray(f"{name}^{l}", balls[l], bits) for l in range(first, L + 1)}

    return ExactBackprop(
        E=E,
        z=exact("z", z),
        h=exact("h", h, first=0),
        delta=delta,
        grad_W=grad_W,
        grad_b=grad_b,
        bits=bits,
        bits_tried=bits_tried,
        need=need,
    )


def exact_backprop(
    arch: ArchitectureLike,
    params: Sequence[Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_bits: int = MAX_BITS,
    start_bits: int = START_BITS,
    need: Collection[str] = QUANTITIES,
) -> ExactBackprop:
    """E, z^l, h^l, delta^l, dE/dW^l, dE/db^l exactly: balls, and their correctly rounded float64.

    Runs the case at start_bits, then at twice the precision while an entry of a quantity in
    `need` does not round to one float64, up to max_bits (the Ziv loop of the module
    docstring). The result's .resolved says whether everything needed was resolved; each
    quantity's .resolved says which entries were. need=GRADIENTS is enough for a gate.
    """
    params, x, y = check_inputs(arch, params, x, y)
    need = tuple(need)
    unknown = [name for name in need if name not in QUANTITIES]
    if unknown:
        raise ValueError(f"need names {unknown}, but valid quantities are {', '.join(QUANTITIES)}")
    if not 53 <= start_bits <= max_bits:
        raise ValueError(
            f"start_bits = {start_bits}, max_bits = {max_bits}, but should be 53 <= start_bits"
            " <= max_bits (53 bits hold the float64 inputs exactly)"
        )
    bits, tried = start_bits, (start_bits,)
    while True:
        result = _backprop_at(arch, params, x, y, bits, tried, need)
        if bits >= max_bits or result.resolved:
            return result
        bits = min(2 * bits, max_bits)
        tried = (*tried, bits)
