"""directional_derivatives: dE/dtheta . d_q along K given directions by central differences
with Richardson (K evaluations instead of one per parameter), and the evaluation of the network
moved along a stack of directions, every layer perturbed."""

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Params
from verification.oracles.finite_differences.constants import STEP_SCALE
from verification.oracles.finite_differences.forward import _forward, _Trace
from verification.oracles.finite_differences.inputs import _as_arrays
from verification.oracles.finite_differences.noise import _rounding_noise
from verification.oracles.finite_differences.perturbed import _chunk_size, _crosses_kink, _reach
from verification.oracles.finite_differences.steps import (
    _RICHARDSON_STEPS,
    _power_of_two_steps,
    _richardson,
)
from verification.oracles.precision import FLOAT64, gamma


def _direction_outputs(
    arch, params: Params, trace: _Trace, directions: list[Params], c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L at theta + c_q d_q for a stack of Q directions d_q, with every layer perturbed.

    z^l = h^{l-1} (W^l + c D_W^l) + b^l + c D_b^l is computed as
    z^l + (Delta h^{l-1}) W^l + c (h^{l-1} D_W^l + D_b^l), which rounds only the change.
    Shapes: c (S, Q) multiples of each direction -> h^L (S, Q, n, n_L), crossed bool (Q,),
    and the reach (Q,) of the largest move of a curved unit or logit (as _real_step_outputs).
    """
    h = trace.h[0]
    crossed, reach = np.zeros(c.shape[1], dtype=bool), np.zeros(c.shape[1])  # (Q,)
    L = len(arch.sizes) - 1
    for l in range(1, L + 1):
        W, _ = params[l - 1]  # layer l is params[l - 1]
        D_W = np.stack([d[l - 1][0] for d in directions])  # (Q, n_{l-1}, n_l)
        D_b = np.stack([d[l - 1][1] for d in directions])[:, None, :]  # (Q, 1, n_l)
        change = (h - trace.h[l - 1]) @ W if l > 1 else 0.0
        change = change + c[..., None, None] * (h @ D_W + D_b)
        if trace.reach[l] is not None:  # (Q, n) per row, or one float bound within reach
            reach = np.maximum(reach, np.max(_reach(change, trace.reach[l]), axis=-1))
        z = trace.z[l] + change
        activation = ACTIVATIONS[arch.activations[l - 1]]
        if activation.kink is not None:
            crossed |= _crosses_kink(z, trace.z[l], activation.kink).any(-1)
        h = activation.phi(z)
    if trace.reach[L + 1] is not None:
        reach = np.maximum(reach, np.max(_reach(h - trace.h[L], trace.reach[L + 1]), axis=-1))
    return h, crossed, reach


def directional_derivatives(
    arch, params, x, y, directions: list[Params]
) -> tuple[np.ndarray, np.ndarray]:
    """dE/dtheta . d_q for each direction d_q, by central differences with Richardson.

    `directions` is a list of Q parameter-shaped lists [(D_W^l, D_b^l) for l = 1..L]. Along
    d_q the step is s_q = STEP_SCALE max(max_k |theta_k|, 1) / max_k |d_qk| (a power of two),
    so that no parameter moves by more than its share of eps^(1/3); the error estimate is as
    for central_differences, with the rounding of every unit of every layer. Where a step
    moves a unit of a relu, leaky_relu or elu layer across its kink, the value measures no
    derivative, and where it moves a curved unit beyond reach (MAX_MOVE) it may measure a
    secant: in both cases its error estimate is inf (the step is not shrunk here).

    Returns (values (Q,), error estimates (Q,)).
    """
    params, x, y = _as_arrays(arch, params, x, y)
    trace = _forward(arch, params, x, y)
    n = x.shape[0]
    directions = [
        [(np.asarray(D_W, dtype=np.float64), np.asarray(D_b, dtype=np.float64)) for D_W, D_b in d]
        for d in directions
    ]
    theta_max = max(max(np.abs(W).max(), np.abs(b).max()) for W, b in params)
    d_max = np.array(
        [max(max(np.abs(D_W).max(), np.abs(D_b).max()) for D_W, D_b in d) for d in directions]
    )
    step = _power_of_two_steps(STEP_SCALE, max(theta_max, 1.0) / np.where(d_max > 0, d_max, 1.0))
    L = len(arch.sizes) - 1
    with np.errstate(over="ignore", invalid="ignore"):
        noise = _rounding_noise(arch, params, trace, y)
        # every unit of layer 1, and with it every unit above, may move: the noise of each
        # unit of layer 1 (which holds the layers above once per unit: an over-estimate)
        rounding = noise[1][0].sum() + gamma(n + 1, FLOAT64.u) * np.abs(trace.losses).sum()
        rounding /= n
        # the products that carry the change round it relatively, once per layer: weighed by
        # |d| and the derivatives through absolute values, |h^{l-1}|^T G^l and 1^T G^l
        relative = np.zeros(len(directions))
        for l in range(1, L + 1):
            G = noise[l][1]
            abs_W, abs_b = np.abs(trace.h[l - 1]).T @ G / n, G.sum(0) / n
            for q, d in enumerate(directions):
                D_W, D_b = d[l - 1]
                relative[q] += (np.abs(D_W) * abs_W).sum() + (np.abs(D_b) * abs_b).sum()
        relative *= L * gamma(max(arch.sizes) + 1, FLOAT64.u)
    loss = LOSSES[arch.loss]
    values, errors = np.empty(len(directions)), np.empty(len(directions))
    Q = max(1, _chunk_size(arch, 0, n, len(_RICHARDSON_STEPS)))
    for start in range(0, len(directions), Q):
        q = slice(start, min(start + Q, len(directions)))
        c = _RICHARDSON_STEPS[:, None] * step[q]  # (4, Q)
        h_L, crossed, reach = _direction_outputs(arch, params, trace, directions[q], c)
        E = loss.textbook_per_example(h_L, y).sum(-1) / n  # (4, Q)
        values[q], errors[q] = _richardson(E, step[q], rounding)
        errors[q] = np.where(crossed | (reach > 1), np.inf, errors[q] + relative[q])
    return values, errors
