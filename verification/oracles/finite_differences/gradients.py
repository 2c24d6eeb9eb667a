"""central_differences and complex_step: every dE/dW^l and dE/db^l in an Estimate, layer by
layer, perturbing each parameter or each unit (PERTURB)."""

import numpy as np

from verification.oracles.finite_differences.constants import STEP_SCALE
from verification.oracles.finite_differences.estimate import Estimate
from verification.oracles.finite_differences.forward import _forward
from verification.oracles.finite_differences.inputs import _as_arrays, _check_perturb
from verification.oracles.finite_differences.noise import _rounding_noise
from verification.oracles.finite_differences.parameters import _central_layer, _complex_layer
from verification.oracles.finite_differences.units import (
    _central_units_layer,
    _complex_units_layer,
)


def _estimate(method: str, arch, params, x, y, layer_estimates) -> Estimate:
    """Run layer_estimates(arch, params, trace, y, l) for l = 1..L into an Estimate."""
    params, x, y = _as_arrays(arch, params, x, y)
    trace = _forward(arch, params, x, y)
    per_layer = [layer_estimates(arch, params, trace, y, l) for l in range(1, len(arch.sizes))]
    estimate, error, skipped, untrusted, steps = zip(*per_layer, strict=True)
    return Estimate(
        method,
        _unflatten(arch, estimate),
        _unflatten(arch, error),
        _unflatten(arch, skipped),
        _unflatten(arch, untrusted),
        _unflatten(arch, steps),
    )


def _unflatten(arch, flat: tuple[np.ndarray, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split each layer's flat (P_l,) vector into (W-shaped, b-shaped) arrays."""
    out = []
    for l, values in enumerate(flat, start=1):
        m, n_l = arch.sizes[l - 1], arch.sizes[l]
        out.append((values[: m * n_l].reshape(m, n_l), values[m * n_l :]))
    return out


def central_differences(
    arch, params, x, y, *, step: float | None = None, perturb: str = "parameters"
) -> Estimate:
    """dE/dtheta_k ~ (4 D(s/2) - D(s)) / 3,  D(s) = (E(theta + s e_k) - E(theta - s e_k)) / 2s.

    The step s_k (the steps module, "The step") first moves the units z^l it perturbs by at
    most STEP_SCALE = eps^(1/3) (see there for the reasoning) times max(|z|, 1), a power of
    two, then shrinks wherever a curved unit above moves beyond MAX_MOVE max(|z|, 1). The
    error estimate of each entry is |D(s/2) - D(s)| (what Richardson removed, and the noise of
    both levels), plus 3 N / s for the rounding N of one evaluation of E (_rounding_noise),
    plus the relative rounding of the products that carry the change. Entries whose
    perturbation moves a unit of a relu, leaky_relu or elu layer across its kink (or off it)
    are marked in `skipped`: their estimate measures neither one-sided derivative; entries for
    which no step came within reach, or whose E overflowed, in `untrusted`.
    `step` = r fixes the step instead, r max(|theta_k|, 1) to a power of two, evaluated once
    and never shrunk (for studies of the error against the step: stepsize).
    perturb="units" differentiates in each z^l_ij instead (see PERTURB), for large networks.

    Shapes: as docs/contract.md, section 4. Returns an Estimate with (W, b)-shaped grads,
    error, skipped, untrusted and steps.
    """
    _check_perturb(perturb)
    controlled = step is None
    step_scale = STEP_SCALE if step is None else step
    central_layer = _central_layer if perturb == "parameters" else _central_units_layer
    noise: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def layer(arch, params, trace, y, l):
        # magnitudes near the largest double may overflow a bound: inf, so untrusted
        with np.errstate(over="ignore", invalid="ignore"):
            if not noise:  # once per case, for every layer
                noise.update(_rounding_noise(arch, params, trace, y))
            return central_layer(arch, params, trace, y, l, step_scale, controlled, noise[l])

    return _estimate("central+richardson", arch, params, x, y, layer)


def complex_step(arch, params, x, y, *, perturb: str = "parameters") -> Estimate:
    """dE/dtheta_k = Im E(theta + i h e_k) / h with h = COMPLEX_STEP = 1e-200.

    No truncation and no cancellation between two values of E: the error is rounding only,
    bounded to first order by _complex_step_outputs and the loss (a few eps times the terms
    of every sum on the way). Nothing is skipped: every phi branches on the real part, which
    the step does not move, so at a kink the convention's side is taken. perturb="units"
    steps each z^l_ij instead (see PERTURB): the same numbers up to rounding, far faster.

    Shapes: as docs/contract.md, section 4. Returns an Estimate (skipped all False).
    """
    _check_perturb(perturb)
    layer = _complex_layer if perturb == "parameters" else _complex_units_layer
    return _estimate("complex-step", arch, params, x, y, layer)
