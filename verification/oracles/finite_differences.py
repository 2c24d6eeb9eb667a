"""Finite-difference oracles: dE/dW^l and dE/db^l from values of E alone, each with its error.

Three estimators, all differentiating the reference's forward pass (its phi and its per-example
loss), never its backward pass (only the error bound of central differences reads |phi'| from
the activation records, as a magnitude):

- `central_differences`: (E(theta + s e_k) - E(theta - s e_k)) / 2s at steps s and s/2, combined
  by Richardson extrapolation;
- `complex_step`: Im E(theta + i h e_k) / h with h = 1e-200, exact to rounding;
- `directional_derivatives`: central differences with Richardson along K given directions, a
  cheap first line (K evaluations instead of one per parameter).

No Python loop runs over the parameters. A perturbation of W^l_ij leaves h^0..h^{l-1} untouched
and changes only column j of z^l, by s h^{l-1}[:, i] (for b^l_j: by s, in every row). So

    z^l[:, j]  <- z^l[:, j] + s v,              v = h^{l-1}[:, i]  (or 1 for b^l_j)
    h^l[:, j]  <- phi_l(z^l[:, j] + s v)
    z^{l+1}    <- z^{l+1} + (Delta h^l[:, j]) outer W^{l+1}[j, :]     (a rank-one change)

and only from layer l + 2 on is a full product h W needed, written as z^m + (Delta h^{m-1}) W^m.
Perturbations are stacked along a leading axis and processed in chunks of bounded memory. Since
most of the computation is shared by E(theta + s e_k) and E(theta - s e_k), its rounding errors
cancel in their difference. The cost is still about 4 P n n_{l+1} evaluations of phi for the
P parameters of layer l: minutes at 100,000 parameters. Rows being independent, perturb="units"
steps each z^l_ij instead (the rank-one change with v = 1, each row's loss read on its own) and
applies the exact dE/dW^l = (h^{l-1})^T delta^l: n n_l steps per layer, well under a second.

The complex step keeps the real part of every z^m and h^m exactly as the real forward pass
computed it (what Re phi(z + i h v) adds is rounding), and carries only the imaginary parts,
with a first-order bound on their rounding; so it differentiates at the forward pass's very
point, and an inaccurate real part of a complex phi cannot leak in.

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

The estimate differentiates the forward pass as computed: its z^m and h^m carry their own
rounding (z^m + Delta z^m is added to the computed z^m), so the point it differentiates at is off
the exact one by what the tolerance allowance of a correct forward pass bounds. A judge adds that
allowance (verification.judge.values); `error` covers the difference quotient alone.

Kinks. relu, leaky_relu and elu (Activation.kink is not None) are not smooth at 0. A central
difference whose perturbation moves any affected z^m of such a layer across the kink, or off it,
measures neither one-sided derivative; such an entry is marked in `Estimate.skipped`, counted,
and must not be compared. The complex step never moves the real part of any z, and every phi
branches on the real part, so it returns the derivative on the side the convention picks
(relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1) and skips nothing
(tests/test_finite_differences.py checks this at units exactly at 0).
"""

from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Array, Params
from verification.oracles.precision import FLOAT64, ULP_IN_U, gamma
from verification.oracles.rounding import ROUNDING

EPS = float(np.finfo(np.float64).eps)

STEP_SCALE = EPS ** (1 / 3)
"""The central-difference step, relative to max(|theta_k|, 1).

Truncation error of D(s) = (E(+s) - E(-s)) / 2s is s^2 |E'''| / 6; its rounding error is about
eps |E| / s. Their sum is smallest at s ~ (3 eps |E| / |E'''|)^(1/3), i.e. eps^(1/3) ~ 6e-6 on
the scale of the parameter. At that step the truncation error is no larger than the rounding
error, so the difference between the Richardson levels D(s) and D(s/2) measures what is left
(mostly rounding), and Richardson, (4 D(s/2) - D(s)) / 3, removes the s^2 term besides.
A larger step (eps^(1/5), optimal for the extrapolated value) would leave the levels differing by
the s^2 term, which is then a gross over-estimate of the extrapolated value's error.
"""

MAX_MOVE = 2.0**-14
"""How far an evaluation may move a curved unit (any z^m above the parameter, or a logit of a
cross-entropy), relative to max(|z^m|, 1), for the step to count as within reach.

Richardson's |D(s/2) - D(s)| bounds the extrapolated error when the Taylor series of E in s
falls fast: 1/4 of a curvature length ell per unit (|phi^(k+1)| <= |phi^(k)| / ell) makes
each order of the odd part 16 times smaller than the last, and the bound holds for ratios
below 3/8 (_richardson). ell is 1/2 for tanh (e^-2|z| tails, poles at i pi/2), 1 for sigmoid,
softplus, elu (e^-|z| tails, poles at i pi), and 1 / (2 w'(z)) for gelu_tanh, w = sqrt(2/pi)
(z + 0.044715 z^3), whose tail e^2w underflows past |z| = 21.7. So a move of MAX_MOVE max(|z|,
1) stays within ell / 4 wherever a curved phi is not flat to the last bit: the tightest is
gelu_tanh at |z| = 21.7, ell / (4 |z|) = 1.1e-4, and the power of two below it is 2^-14. (The
exponential tails flatten to 0 before a move of MAX_MOVE |z| reaches a quarter of their ell, at
|z| = 745 where a move of MAX_MOVE |z| is 0.045.) It is 10 times STEP_SCALE: the first step,
which moves the units it perturbs by STEP_SCALE max(|z|, 1), is within reach there by
construction; layers above that amplify the move by more than 10 shrink the step."""

STEP_ROUNDS = 4
"""Evaluations at shrinking steps before a perturbation still out of reach is left untrusted.
Once every curved unit moves within reach, the moves are linear in s, so shrinking by the
measured excess (a power of two) brings the step within reach in one round: two evaluations.
A third is needed when the first step was so far out that saturation clipped the moves it
measured (the excess then shows only at the smaller step), and a fourth confirms it. Measured:
over 1,500 saturated cases (300 of each smooth activation) and 1,000 default cases, no
perturbation needed more than 2 (7% of the saturated ones needed 2)."""

ROUNDING_ULPS = 2
"""Rounding error of one per-example loss L_i from its h^L, in units of eps times the size of its
terms (|L_i| + sum_k |h^L_ik| |dL_i/dh^L_ik| + 1): each loss is a short chain (a difference,
a square or a softplus or a log-sum-exp, a sum over n_L outputs) of roundings of half an ULP
of quantities bounded by those terms."""

COMPLEX_STEP = 1e-200
"""h of the complex step: h^2 = 1e-400 underflows to 0, so Im E(theta + i h e_k) / h is the
derivative with no truncation error at all. Derivatives smaller than about 1e-108 underflow."""

COMPLEX_STEP_ULPS = 2
"""Rounding error of the complex-step derivative in units of eps times the error terms that
_complex_step_outputs carries (each product, sum and phi adds at most a few half-ULPs)."""

_SUBNORMAL = 2.0**-1074 / EPS
"""The spacing of subnormal numbers, in units of eps: below 2^-1022 an imaginary part (about
COMPLEX_STEP times a derivative, so derivatives below ~1e-108) is rounded to a multiple of
2^-1074, an absolute error that _complex_step_outputs adds at every step of the way."""

_SMALLEST = 2.0**-1074
"""One ULP of a subnormal h^m: below 2^-1022 a phi is off by ULPs of this absolute size."""

CHUNK_BYTES = 32 * 2**20
"""Memory for the temporaries of one chunk of stacked perturbations (several arrays of this
size may be alive at once, well under 256 MB); small enough to stay near the CPU caches."""


@dataclass(frozen=True)
class Estimate:
    """A finite-difference estimate of every dE/dW^l and dE/db^l, layer order.

    method:    "central+richardson" or "complex-step";
    grads:     [(dE/dW^l, dE/db^l) for l = 1..L], shapes of W^l (n_{l-1}, n_l) and b^l (n_l,);
    error:     the same shapes: an estimate of each entry's absolute error as a derivative of
               the forward pass as computed (see the module docstring);
    skipped:   the same shapes, bool: entries whose perturbation crosses a kink (do not compare);
    untrusted: the same shapes, bool: entries for which no step was trustworthy (every step
               tried moved some curved unit beyond reach, or E overflowed): do not compare;
               never also in skipped;
    steps:     the same shapes: the step s each entry was estimated with (0 for the complex
               step, whose h is COMPLEX_STEP).
    """

    method: str
    grads: Params
    error: Params
    skipped: list[tuple[np.ndarray, np.ndarray]]
    untrusted: list[tuple[np.ndarray, np.ndarray]]
    steps: Params

    @property
    def skipped_count(self) -> int:
        """How many entries were skipped because a perturbation crossed a kink."""
        return _count(self.skipped)

    @property
    def untrusted_count(self) -> int:
        """How many entries were left unjudged because no step was trustworthy."""
        return _count(self.untrusted)

    @property
    def unjudged(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Entries that must not be compared, for either reason: skipped or untrusted."""
        return [
            (sW | uW, sb | ub)
            for (sW, sb), (uW, ub) in zip(self.skipped, self.untrusted, strict=True)
        ]


def _count(masks: list[tuple[np.ndarray, np.ndarray]]) -> int:
    return int(sum(mask.sum() for layer in masks for mask in layer))


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


def _crosses_kink(z_new: Array, z_old: np.ndarray, kink: float) -> np.ndarray:
    """True for each row where some unit moved to the other side of the kink, onto it, or off.

    Shapes: z_new (S, K, n, m), z_old broadcastable to it -> bool (K, n): any over S and m.
    """
    moved_across = (z_new > kink) != (z_old > kink)
    moved_off = (z_old == kink) & (z_new != z_old)
    return (moved_across | moved_off).any(axis=(0, -1))


def _reach(dz: np.ndarray, inverse_room: np.ndarray | None) -> np.ndarray | float:
    """max |dz| / room over steps and units: dz (S, K, n, m) -> (K, n) (0.0 if nothing curved).

    Where even the largest move over the smallest room is within reach, that bound (a float)
    is returned instead: no step then needs to know its own reach, and most evaluations are
    decided by two reductions without a temporary array.
    """
    if inverse_room is None:
        return 0.0
    bound = max(float(dz.max()), -float(dz.min())) * float(inverse_room.max())
    if bound <= 1:
        return bound
    return (np.abs(dz) * inverse_room).max(axis=(0, -1))


def _real_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, dz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += dz[s, k, :], for S steps of each of K perturbations.

    Shapes: j (K,) column indices of z^l, dz (S, K, n)
    -> h^L (S, K, n, n_L); a bool (K, n), True where some step crossed a kink in row i; and
    the reach (K, n): the largest move of a curved unit (or logit) in row i, in units of its
    room MAX_MOVE max(|z|, 1) (within reach: <= 1).
    """
    L = len(arch.sizes) - 1
    crossed = np.zeros(dz.shape[1:], dtype=bool)
    reach = np.zeros(dz.shape[1:])

    activation = ACTIVATIONS[arch.activations[l - 1]]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_col_new = z_col + dz
    if activation.kink is not None:
        crossed |= _crosses_kink(z_col_new[..., None], z_col[..., None], activation.kink)
    if trace.reach[l] is not None:
        reach = np.maximum(reach, _reach(dz[..., None], trace.reach[l][:, j].T[..., None]))
    h_col_new = activation.phi(z_col_new)  # (S, K, n)

    if l == L:
        h = np.broadcast_to(trace.h[L], (*dz.shape, arch.sizes[L])).copy()
        h[:, np.arange(j.size), :, j] = h_col_new.transpose(1, 0, 2)  # column j_k of h^L
        if trace.reach[L + 1] is not None:
            moved = (h_col_new - trace.h[L][:, j].T)[..., None]
            reach = np.maximum(reach, _reach(moved, trace.reach[L + 1][:, j].T[..., None]))
        return h, crossed, reach

    # z^{l+1} changes by the rank-one term (Delta h^l[:, j]) outer W^{l+1}[j, :]
    delta_h = h_col_new - trace.h[l][:, j].T
    W_next, _ = params[l]  # W^{l+1} is params[l]
    z = delta_h[..., None] * W_next[j][:, None, :]  # (S, K, n, n_{l+1}): the change of z^{l+1}
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            # z^m + (Delta h^{m-1}) W^m equals h^{m-1} W^m + b^m, but rounds only the change:
            # what E(theta + s e_k) and E(theta - s e_k) share cancels in their difference
            # (a stack of small products: one tall product would go to threaded BLAS, which
            # is many times slower at these shapes on a busy machine)
            h -= trace.h[m - 1]
            z = h @ W
        reach = np.maximum(reach, _reach(z, trace.reach[m]))
        z += trace.z[m]
        activation = ACTIVATIONS[arch.activations[m - 1]]
        if activation.kink is not None:
            crossed |= _crosses_kink(z, trace.z[m], activation.kink)
        h = activation.phi(z)
    if trace.reach[L + 1] is not None:
        reach = np.maximum(reach, _reach(h - trace.h[L], trace.reach[L + 1]))
    return h, crossed, reach


def _slope(h_im: np.ndarray, z_im: np.ndarray) -> np.ndarray:
    """|phi'(z)| as the complex step measured it, |Im h| / |Im z| (1 where Im z is 0)."""
    z_abs = np.abs(z_im)
    return np.divide(np.abs(h_im), z_abs, out=np.ones_like(z_abs), where=z_abs > 0)


def _complex_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += i COMPLEX_STEP v[k], and an error bound on its imaginary part.

    Each phi is the reference's, evaluated at a complex z. The real parts stay exactly the
    unperturbed z^m and h^m (what Re phi adds is rounding, as h^2 underflows), so that the
    step differentiates at the very point of the forward pass, and z^m + i Im(h^{m-1}) W^m is
    the complex product with a real matmul.

    R^m, in units of eps, bounds the rounding in Im h^m, carried forward to first order:
        R_z^m = (R^{m-1} + |Im h^{m-1}| + sub) |W^m|     (what the sum h^{m-1} W^m may lose)
        R^m   = |phi'| R_z^m + ulps(phi) |Im h^m| + sub
    where sub = _SUBNORMAL, the rounding of an imaginary part that has become subnormal.
    Shapes: j (K,), v (K, n) -> h^L (K, n, n_L) complex, R^L (K, n, n_L).
    """
    L = len(arch.sizes) - 1
    name = arch.activations[l - 1]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_im = COMPLEX_STEP * v
    h_im = ACTIVATIONS[name].phi(z_col + 1j * z_im).imag
    R = ROUNDING[name].complex_step_ulps(z_col) * np.abs(h_im) + _SUBNORMAL

    if l == L:
        h = trace.h[L].astype(complex)[None].repeat(j.size, axis=0)
        h[np.arange(j.size), :, j] += 1j * h_im  # column j_k of h^L
        R_L = np.zeros(h.shape)
        R_L[np.arange(j.size), :, j] = R
        return h, R_L

    # Im z^{l+1} = (Im h^l[:, j]) outer W^{l+1}[j, :], a product: half an ULP
    W_next, _ = params[l]  # W^{l+1} is params[l]
    W_j = W_next[j][:, None, :]  # (K, 1, n_{l+1})
    z_im = h_im[..., None] * W_j
    R_z = R[..., None] * np.abs(W_j) + np.abs(z_im) + _SUBNORMAL
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            z_im = h_im @ W
            R_z = (R + np.abs(h_im) + _SUBNORMAL) @ np.abs(W)
        name = arch.activations[m - 1]
        h_im = ACTIVATIONS[name].phi(trace.z[m] + 1j * z_im).imag
        R = (
            _slope(h_im, z_im) * R_z
            + ROUNDING[name].complex_step_ulps(trace.z[m]) * np.abs(h_im)
            + _SUBNORMAL
        )
    return trace.h[L] + 1j * h_im, R


def _layer_perturbations(h_prev: np.ndarray, n_l: int) -> tuple[np.ndarray, np.ndarray]:
    """For each parameter of layer l in the order of W^l.ravel() then b^l: the column j of z^l
    it moves, and the row i of (h^{l-1})^T it moves it by (i = n_{l-1} stands for b^l, whose
    vector is all ones).

    Shapes: h_prev (n, n_{l-1}) -> j (P_l,), i (P_l,), P_l = n_{l-1} n_l + n_l.
    """
    n_prev = h_prev.shape[1]
    i = np.concatenate([np.repeat(np.arange(n_prev), n_l), np.full(n_l, n_prev)])
    j = np.concatenate([np.tile(np.arange(n_l), n_prev), np.arange(n_l)])
    return j, i


def _chunk_size(arch, l: int, n: int, evaluations: int) -> int:
    """How many perturbations of layer l fit CHUNK_BYTES, each (evaluations, n, width) float64."""
    widest = max(arch.sizes[l:])
    return max(1, CHUNK_BYTES // (evaluations * n * widest * 8))


def _loss_slope(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """A bound on |d L_i / d h^L_ik|: |h - y| for squared_error, 1 for the cross-entropies
    (|softmax - onehot|, |sigma - y|). Shape (n, n_L)."""
    h_L = trace.h[len(arch.sizes) - 1]
    if arch.loss == "squared_error":
        return np.abs(h_L - y)
    return np.ones_like(h_L)


def _loss_sensitivity(arch, trace: _Trace, y: np.ndarray) -> np.ndarray:
    """_loss_slope plus 1 for the loss's own rounding, to weigh errors in h^L as errors in the
    loss (the complex step's bound). Shape (n, n_L)."""
    return _loss_slope(arch, trace, y) + 1


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


def _rounding_noise(
    arch, params: Params, trace: _Trace, y: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{l: (N^l, G^l)}, each (n, n_l), for perturbations of layer l, in units of the row loss L_i.

    G^l_ij >= |dL_i/dz^l_ij| through absolute values: G^m = |phi_m'(z^m)| A^m, with
    A^L = |dL_i/dh^L| (_loss_slope) and A^{m-1} = G^m |W^m|^T.
    N^l_ij bounds the rounding of one evaluation of L_i when unit (i, j) of z^l moves, and with
    it row i of every layer above. What the evaluations share cancels in their differences; what
    they round anew is: each sum z^m + Delta z^m, once (u |z^m|, weighed by G^m); each phi(z^m),
    within Rounding.reference_ulps ULPs (2u each) of |h^m| where its formula is not exact,
    weighed by A^m; and the loss (by its textbook formulas, Loss.textbook_per_example), within
    ROUNDING_ULPS eps of its terms. The magnitudes are what matters: where h^{m-1} W^m and b^m
    cancel to a small z^m, or a huge h^m feeds a small loss, the rounding of the large
    quantities far exceeds that of E itself.
    """
    L = len(arch.sizes) - 1
    u = FLOAT64.u
    A = _loss_slope(arch, trace, y)  # (n, n_L)
    h_L = trace.h[L]
    above = ROUNDING_ULPS * EPS * (np.abs(trace.losses) + (np.abs(h_L) * A).sum(-1) + 1)
    noise = {}
    for m in range(L, 0, -1):
        name = arch.activations[m - 1]
        z = trace.z[m]
        G = np.abs(ACTIVATIONS[name].dphi(z)) * A
        rounded = ROUNDING[name].value_terms(z) > 0  # 0: phi is exact there (relu, identity)
        ulps = np.where(rounded, ROUNDING[name].reference_ulps(z), 0.0)
        own = u * np.abs(z) * G + (ULP_IN_U * u * ulps * np.abs(trace.h[m]) + _SMALLEST) * A
        noise[m] = (own + above[:, None], G)
        above = above + own.sum(-1)
        W, _ = params[m - 1]  # layer m is params[m - 1]
        A = G @ np.abs(W).T
    return noise


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


def _central_layer(arch, params, trace, y, l, step_scale, controlled, rounding_noise):
    """(estimate, error, skipped, untrusted, step) for every parameter of layer l, (P_l,) each.

    controlled: the step of the module docstring (first steps on the scale of z^l, then shrunk
    until within reach); otherwise step_scale max(|theta_k|, 1), as given, evaluated once.
    """
    n, L = trace.h[0].shape[0], len(arch.sizes) - 1
    loss = LOSSES[arch.loss]
    j_all, i_all = _layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v_rows = np.vstack([trace.h[l - 1].T, np.ones((1, n))])  # rows of (h^{l-1})^T, then 1
    v = v_rows[i_all]  # (P, n): how far each parameter moves its column of z^l per unit step
    noise, G = rounding_noise  # _rounding_noise of layer l, (n, n_l) each
    # one evaluation of E = (1/n) sum_i L_i rounds the rows that move, and the sum over all rows
    rounding = ((v != 0) * noise[:, j_all].T).sum(-1) + gamma(n + 1, FLOAT64.u) * np.abs(
        trace.losses
    ).sum()
    rounding /= n
    # the products that carry the change round it relatively, once per layer passed
    relative = (L - l + 1) * gamma(max(arch.sizes) + 1, FLOAT64.u) / n
    relative *= (np.abs(v) * G[:, j_all].T).sum(-1)
    if controlled:
        step = _first_steps(step_scale, trace.z[l][:, j_all].T, v)
    else:
        W, b = params[l - 1]  # layer l is params[l - 1]
        theta = np.concatenate([W.ravel(), b])
        step = _power_of_two_steps(step_scale, np.maximum(np.abs(theta), 1.0))
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))

    def evaluate(k: np.ndarray, s: np.ndarray):
        out = [np.empty(k.size), np.empty(k.size), np.empty(k.size, dtype=bool), np.empty(k.size)]
        for start in range(0, k.size, K):
            c = slice(start, start + K)
            dz = _RICHARDSON_STEPS[:, None, None] * (s[c, None] * v[k[c]])  # (4, K, n)
            h_L, crossed, reach = _real_step_outputs(arch, params, trace, l, j_all[k[c]], dz)
            with np.errstate(over="ignore", invalid="ignore"):
                E = loss.textbook_per_example(h_L, y).sum(-1) / n  # (4, K)
                out[0][c], out[1][c] = _richardson(E, s[c], rounding[k[c]])
            out[2][c], out[3][c] = crossed.any(-1), reach.max(-1)
        return out

    estimate, error, crossed, reach, step = _within_reach(
        step, evaluate, STEP_ROUNDS if controlled else 1
    )
    untrusted = _untrusted(estimate, error, reach, crossed, controlled)
    return estimate, error + relative, crossed, untrusted, step


def _complex_layer(arch, params, trace, y, l):
    """(estimate, error, skipped, untrusted, step) for every parameter of layer l, flattened
    (P_l,): nothing skipped or untrusted, and no step (h is COMPLEX_STEP)."""
    n = trace.h[0].shape[0]
    loss = LOSSES[arch.loss]
    sensitivity = _loss_sensitivity(arch, trace, y)
    P = arch.sizes[l - 1] * arch.sizes[l] + arch.sizes[l]
    j_all, i_all = _layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v_rows = np.vstack([trace.h[l - 1].T, np.ones((1, n))])  # rows of (h^{l-1})^T, then 1
    estimate, error = np.empty(P), np.empty(P)
    K = _chunk_size(arch, l, n, 4)  # complex h^L and the real error terms
    for start in range(0, P, K):
        k = slice(start, min(start + K, P))
        h_L, R_L = _complex_step_outputs(arch, params, trace, l, j_all[k], v_rows[i_all[k]])
        im = loss.per_example(h_L, y).imag  # (K, n): COMPLEX_STEP d L_i / d theta_k
        estimate[k] = im.sum(-1) / (n * COMPLEX_STEP)
        # what Im L_i may be off by: the errors in Im h^L, weighed by dL_i/dh^L, and the terms
        # of the loss's own sum over outputs, Im h^L_ik dL_i/dh^L_ik, and over examples
        terms = ((R_L + np.abs(h_L.imag)) * sensitivity).sum(-1) + np.abs(im) + _SUBNORMAL
        error[k] = COMPLEX_STEP_ULPS * EPS * terms.sum(-1) / (n * COMPLEX_STEP)
    nothing = np.zeros(P, dtype=bool)
    return estimate, error, nothing, nothing, np.zeros(P)


def _from_units(
    h_prev: np.ndarray,
    delta: np.ndarray,
    error: np.ndarray,
    skipped: np.ndarray,
    untrusted: np.ndarray,
    step: np.ndarray,
):
    """Every parameter of layer l from estimates of delta^l = dE/dz^l, flattened (P_l,).

        dE/dW^l = (h^{l-1})^T delta^l,   dE/db^l = 1^T delta^l   (exact: z^l is linear in W, b)
        error:  |h^{l-1}|^T error(delta^l) + the sum's own rounding, eps |h^{l-1}|^T |delta^l|
        skipped: W^l_ij where a unit (i', j) with h^{l-1}_i'i != 0 is skipped; b^l_j where any is
        (untrusted likewise, where not skipped); step: the largest step of the units it sums.
    Shapes: h_prev (n, n_{l-1}); delta, error, skipped, untrusted, step (n, n_l) -> five (P_l,).
    """
    h_abs = np.abs(h_prev)
    grad_W, grad_b = h_prev.T @ delta, delta.sum(0)
    error_W = h_abs.T @ (error + ROUNDING_ULPS * EPS * np.abs(delta))
    error_b = (error + ROUNDING_ULPS * EPS * np.abs(delta)).sum(0)
    feeds = (h_prev != 0).T.astype(float)  # (n_{l-1}, n): row i' feeds W^l_i.

    def any_fed(mask: np.ndarray) -> np.ndarray:
        return np.concatenate([((feeds @ mask.astype(float)) > 0).ravel(), mask.any(0)])

    skipped_flat = any_fed(skipped)
    step_W = np.broadcast_to(step.max(0), grad_W.shape)
    return (
        np.concatenate([grad_W.ravel(), grad_b]),
        np.concatenate([error_W.ravel(), error_b]),
        skipped_flat,
        any_fed(untrusted) & ~skipped_flat,
        np.concatenate([step_W.ravel(), step.max(0)]),
    )


def _central_units_layer(arch, params, trace, y, l, step_scale, controlled, rounding_noise):
    """Layer l from central differences of each L_i in its own z^l_ij, then _from_units.

    Rows are independent: moving column j of z^l by t_ij in every row i at once gives, in row
    i's loss, the derivative dL_i/dz^l_ij = n delta^l_ij. The first step t_ij is step_scale
    times max(|z^l_ij|, 1), a power of two; controlled, it is shrunk row by row until within
    reach (_within_reach), as for parameters.
    """
    n, L = trace.h[0].shape[0], len(arch.sizes) - 1
    loss = LOSSES[arch.loss]
    t = _power_of_two_steps(step_scale, np.maximum(np.abs(trace.z[l].T), 1.0))  # (n_l, n)
    noise, G = rounding_noise  # _rounding_noise of layer l, (n, n_l) each
    relative = (L - l + 1) * gamma(max(arch.sizes) + 1, FLOAT64.u) * G.T
    K = _chunk_size(arch, l, n, len(_RICHARDSON_STEPS))

    def evaluate(j: np.ndarray, t_j: np.ndarray):
        out = [np.empty(t_j.shape), np.empty(t_j.shape), np.empty(t_j.shape, bool)]
        out.append(np.empty(t_j.shape))
        for start in range(0, j.size, K):
            c = slice(start, start + K)
            dz = _RICHARDSON_STEPS[:, None, None] * t_j[c]  # (4, K, n)
            h_L, out[2][c], out[3][c] = _real_step_outputs(arch, params, trace, l, j[c], dz)
            with np.errstate(over="ignore", invalid="ignore"):
                E_rows = loss.textbook_per_example(h_L, y)  # (4, K, n): each row's loss on its own
                out[0][c], out[1][c] = _richardson(E_rows, t_j[c], noise[:, j[c]].T)
        return out

    slope, error, crossed, reach, t = _within_reach(t, evaluate, STEP_ROUNDS if controlled else 1)
    untrusted = _untrusted(slope, error, reach, crossed, controlled)
    error = error + relative
    return _from_units(trace.h[l - 1], slope.T / n, error.T / n, crossed.T, untrusted.T, t.T)


def _complex_units_layer(arch, params, trace, y, l):
    """Layer l from complex steps i h in each z^l_ij, then _from_units.

    The same numbers as the complex step in each parameter, up to rounding: Im parts are
    linear (h^2 = 0), so Im E(theta + i h e_{W_ij}) = sum_i' h^{l-1}_i'i Im L_i'(z^l_i'j + i h)
    / n, which is (h^{l-1})^T delta^l. Nothing is skipped.
    """
    n, n_l = trace.h[0].shape[0], arch.sizes[l]
    loss = LOSSES[arch.loss]
    sensitivity = _loss_sensitivity(arch, trace, y)
    slope, error = np.empty((n_l, n)), np.empty((n_l, n))
    K = _chunk_size(arch, l, n, 4)
    for start in range(0, n_l, K):
        j = np.arange(start, min(start + K, n_l))
        h_L, R_L = _complex_step_outputs(arch, params, trace, l, j, np.ones((j.size, n)))
        im = loss.per_example(h_L, y).imag  # (K, n): COMPLEX_STEP dL_i/dz^l_ij
        slope[j] = im / COMPLEX_STEP
        terms = ((R_L + np.abs(h_L.imag)) * sensitivity).sum(-1) + np.abs(im) + _SUBNORMAL
        error[j] = COMPLEX_STEP_ULPS * EPS * terms / COMPLEX_STEP
    nothing = np.zeros((n, n_l), dtype=bool)
    return _from_units(
        trace.h[l - 1], slope.T / n, error.T / n, nothing, nothing, np.zeros((n, n_l))
    )


PERTURB = ("parameters", "units")
"""What central_differences and complex_step perturb, one at a time:

parameters: each W^l_ij and b^l_j (the definition; cost ~ P n n_{l+1} phi per evaluation);
units:      each pre-activation z^l_ij, then dE/dW^l = (h^{l-1})^T delta^l exactly (cost ~
            n n_l n_{l+1} per layer: far cheaper for large networks; the same numbers for the
            complex step, and an estimate of the same accuracy for central differences)."""


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


def _check_perturb(perturb: str) -> None:
    if perturb not in PERTURB:
        raise ValueError(f"perturb={perturb!r}, but should be one of: {', '.join(PERTURB)}")


def _unflatten(arch, flat: tuple[np.ndarray, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split each layer's flat (P_l,) vector into (W-shaped, b-shaped) arrays."""
    out = []
    for l, values in enumerate(flat, start=1):
        m, n_l = arch.sizes[l - 1], arch.sizes[l]
        out.append((values[: m * n_l].reshape(m, n_l), values[m * n_l :]))
    return out


def _as_arrays(arch, params, x, y) -> tuple[Params, np.ndarray, np.ndarray]:
    """float64 copies where needed (never the caller's arrays modified), y as the loss wants."""
    params = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in params]
    y = np.asarray(y)
    if arch.loss != "cross_entropy":
        y = y.astype(np.float64)
    return params, np.asarray(x, dtype=np.float64), y


def central_differences(
    arch, params, x, y, *, step: float | None = None, perturb: str = "parameters"
) -> Estimate:
    """dE/dtheta_k ~ (4 D(s/2) - D(s)) / 3,  D(s) = (E(theta + s e_k) - E(theta - s e_k)) / 2s.

    The step s_k (module docstring, "The step") first moves the units z^l it perturbs by at
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
