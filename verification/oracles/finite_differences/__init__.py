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

The step of central differences (first steps on the scale of the units they move, shrunk until
every curved unit above moves within reach; the error estimate; untrusted entries) is described
in `steps`.

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

The modules, in the order data flows through them:

    constants    the step and how far it may move a unit, the rounding of a loss and of a
                 complex step, the memory of a chunk: each with its reason
    estimate     Estimate, what central_differences and complex_step return
    inputs       what to perturb (PERTURB) and float64 copies of the arguments
    forward      the unperturbed forward pass (_Trace) and the reach of each unit
    perturbed    h^L after real or complex steps in one column of z^l, kinks crossed, reach
    noise        the rounding of one evaluation of E (_rounding_noise), the loss's slope
    steps        the step: first steps, Richardson, within reach, untrusted
    parameters   one layer by perturbing each W^l_ij and b^l_j (central, complex)
    units        one layer by perturbing each z^l_ij, then dE/dW^l = (h^{l-1})^T delta^l
    gradients    central_differences and complex_step
    directional  directional_derivatives

This package imports NumPy, the reference and verification.oracles' precision and rounding
only. Its public names are imported here; a constant is read in the module that uses it, so a
test patches it there (constants says where).
"""

from verification.oracles.finite_differences.constants import (
    CHUNK_BYTES,
    COMPLEX_STEP,
    COMPLEX_STEP_ULPS,
    EPS,
    MAX_MOVE,
    ROUNDING_ULPS,
    STEP_ROUNDS,
    STEP_SCALE,
)
from verification.oracles.finite_differences.directional import directional_derivatives
from verification.oracles.finite_differences.estimate import Estimate
from verification.oracles.finite_differences.gradients import central_differences, complex_step
from verification.oracles.finite_differences.inputs import PERTURB

__all__ = [
    "CHUNK_BYTES",
    "COMPLEX_STEP",
    "COMPLEX_STEP_ULPS",
    "EPS",
    "MAX_MOVE",
    "PERTURB",
    "ROUNDING_ULPS",
    "STEP_ROUNDS",
    "STEP_SCALE",
    "Estimate",
    "central_differences",
    "complex_step",
    "directional_derivatives",
]
