"""The step of central differences: the first steps, Richardson extrapolation and its error,
the steps shrunk until within reach, and the entries left untrusted.

The step (central_differences). A step is only as good as what it does to the units it moves.
A perturbation of theta_k moves z^l by s v, and through the layers above every z^m it reaches;
where h^{l-1} or W is large, a step of eps^(1/3) |theta| can move a unit by 100 or more, across
the curved region of its phi, where the difference quotient measures a secant, not a slope,
and both Richardson levels may measure the same wrong secant. So:

- the first step moves every unit of column j of z^l by at most STEP_SCALE max(|z^l_ij|, 1)
  (the step on the scale of the quantity it moves, not of theta);
- every evaluation measures how far each curved unit above moved (its reach, against
  MAX_MOVE max(|z^m|, 1), and the loss's logits likewise); a perturbation that reached too far
  is evaluated again at a step shrunk by the excess, up to STEP_ROUNDS times;
- the error estimate is |D(s/2) - D(s)| (what Richardson removed: it bounds the extrapolated
  value's truncation once every unit moves well within its curvature length), plus 3 N / s for
  the rounding N of one evaluation of E, bounded through the magnitudes of every layer the
  perturbation passes (_rounding_noise), plus the relative rounding of the products that carry
  the change;
- where no step was found within reach, or E overflowed, the entry is marked `untrusted`: left
  unjudged by finite differences and counted, never failed (torch.autograd still judges it).
"""

import numpy as np


def _power_of_two_steps(step_scale: float, magnitude: np.ndarray) -> np.ndarray:
    """s = step_scale 2^ceil(log2 magnitude): the step on the parameter's scale, rounded so that
    s/2 is exact and theta +- s differ from theta by exactly what was asked. The exponent is
    held within +-1000, so that s stays a normal float64 whatever the magnitude."""
    return np.ldexp(step_scale, np.clip(np.ceil(np.log2(magnitude)), -1000, 1000).astype(int))


_RICHARDSON_STEPS = np.array([1.0, -1.0, 0.5, -0.5])
"""The multiples of the step s at which E is evaluated: +s, -s, +s/2, -s/2."""


def _richardson(
    E: np.ndarray, s: np.ndarray, rounding: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, error) from values of E at +s, -s, +s/2, -s/2 (E[0], E[1], E[2], E[3]).

    D(s) = (E(+s) - E(-s)) / 2s = E' + c_1 s^2 + c_2 s^4 + ... + noise; (4 D(s/2) - D(s)) / 3
    cancels the s^2 term and leaves -c_2 s^4 / 4 - 5 c_3 s^6 / 16 - .... Its error is estimated
    by |D(s/2) - D(s)| = |3 c_1 s^2 / 4 + 15 c_2 s^4 / 16 + ...|, which holds what was cancelled
    and the noise of both levels. That covers the extrapolated error whenever successive terms
    fall by a ratio q = |c_{k+1} s^2 / c_k| <= 3/8 (then |3 c_1 s^2 / 4| - |15 c_2 s^4 / 16|
    - ... >= (3/4 - q / (1 - q)) |c_1 s^2| >= q / (4 (1 - q)) |c_1 s^2|, the error's bound),
    and where c_1 vanishes the c_2 term alone covers it 15/4 times: MAX_MOVE keeps q far below.
    To it is added a bound on the extrapolated value's own rounding: E's rounding `rounding`
    over s/2 (for D(s/2)) weighted 4/3 by the extrapolation, and D(s)'s: 3 r / s.
    Shapes: E (4, ...), s and rounding broadcastable to E[0] -> two arrays of E[0]'s shape.
    """
    D_s = (E[0] - E[1]) / (2 * s)
    D_half = (E[2] - E[3]) / s
    return (4 * D_half - D_s) / 3, np.abs(D_half - D_s) + 3 * rounding / s


def _first_steps(step_scale: float, z_moved: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The step s_k that moves each unit z_ik it perturbs by at most about step_scale
    max(|z_ik|, 1): s_k = step_scale 2^ceil(log2 min_i max(|z_ik|, 1) / |v_ik|) over the rows
    that move (s_k = step_scale where none does: E does not depend on theta_k).

    Shapes: z_moved, v (K, n): the column of z^l each perturbation moves, and by how much per
    unit step -> (K,).
    """
    v_abs = np.abs(v)
    room = np.full(v.shape, np.inf)
    with np.errstate(over="ignore"):  # a subnormal v: room inf, held to 1 below
        np.divide(np.maximum(np.abs(z_moved), 1.0), v_abs, out=room, where=v_abs > 0)
    room = room.min(-1)
    return _power_of_two_steps(step_scale, np.where(np.isfinite(room), room, 1.0))


def _within_reach(step: np.ndarray, evaluate, rounds: int):
    """Evaluate every perturbation at `step`, then again at a smaller step wherever a curved unit
    moved beyond reach, up to `rounds` evaluations each (STEP_ROUNDS, or 1 for a fixed step).

    `step` is (K,) or (K, n) (one step per row: perturb="units"); evaluate(k, step[k]) returns
    (estimate, error, crossed, reach) shaped like step[k], for the index array k of axis 0.
    A perturbation out of reach by a factor r is evaluated again at step 2^-ceil(log2 r) times;
    where the reach is not finite (E overflowed) it is not tried again.
    Returns (estimate, error, crossed, reach, step), each shaped like step.
    """
    step = step.astype(np.float64)
    estimate, error, crossed, reach = evaluate(np.arange(len(step)), step)
    for _ in range(rounds - 1):
        pending = (reach > 1) & np.isfinite(reach)
        if not pending.any():
            break
        # shrink what is out of reach by its excess, to a power of two, and evaluate it again
        excess = np.where(pending, reach, 1.0)
        step = np.ldexp(step, -np.ceil(np.log2(excess)).astype(int))
        k = np.flatnonzero(pending.reshape(len(step), -1).any(-1))
        keep = pending[k]
        for whole, part in zip(
            (estimate, error, crossed, reach), evaluate(k, step[k]), strict=True
        ):
            whole[k] = np.where(keep, part, whole[k])
    return estimate, error, crossed, reach, step


def _untrusted(estimate, error, reach, crossed, controlled: bool) -> np.ndarray:
    """No trustworthy step: still beyond reach (when the step is controlled), or a value that
    is not finite; a kink crossing is reported as such instead."""
    beyond = (reach > 1) | ~np.isfinite(reach) if controlled else False
    return (beyond | ~np.isfinite(estimate) | ~np.isfinite(error)) & ~crossed
