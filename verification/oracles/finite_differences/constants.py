"""The constants of the finite-difference oracles, each with its reason: the step and how far
it may move a unit (STEP_SCALE, MAX_MOVE, STEP_ROUNDS), the rounding of a loss and of a complex
step (ROUNDING_ULPS, COMPLEX_STEP, COMPLEX_STEP_ULPS), and the memory of one chunk
(CHUNK_BYTES).

A test that patches one of them patches it in the module that reads it (MAX_MOVE: forward;
STEP_ROUNDS: parameters and units; CHUNK_BYTES: perturbed), not here.
"""

import numpy as np

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
