"""The exact witness: backprop in ball arithmetic, every entry correctly rounded to float64.

For one case (arch, params, x, y: docs/contract.md, section 4) this package computes E and, for
every layer l = 1..L, z^l, h^l, delta^l, dE/dW^l and dE/db^l from the float64 inputs exactly as
given, in the seed's equations,

    forward    z^l = h^{l-1} W^l + b^l,  h^l = phi_l(z^l)
    loss       E = (1/n) sum_i L(h^L_i, y_i),  g = dE/dh^L
    backward   delta^L = phi_L'(z^L) * g,  delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    gradients  dE/dW^l = (h^{l-1})^T delta^l,  dE/db^l = 1^T delta^l

with every real number held as a ball [m +/- r] (FLINT's Arb, through python-flint): a
midpoint and a radius such that the exact value provably lies inside. Matrix products are
arb_mat products; activations, their derivatives and the losses are Arb's elementary functions
(each proved to enclose its exact result). Nothing is approximated: no cut-off, no series
truncated by us, no float64 step. Where the formulas differ from the textbook, they avoid a
cancellation that no affordable precision would resolve (activations and losses say which).

A ball is resolved when both of its endpoints round to one float64: that double is then the
correctly rounded exact value (precision). The case is computed at START_BITS of working
precision, and again at twice the precision while an entry the caller needs is unresolved, up
to MAX_BITS (the Ziv loop, network); an entry still unresolved there is reported with its ball,
on which |got - exact| <= allowance can still be decided rigorously (ExactArray.within).

The modules, in the order data flows through them:

    balls        arrays of arb balls: a float64 array made exact, a function on every ball
    precision    the precision policy (START_BITS, MAX_BITS, working_precision) and rounding a
                 ball to float64 (round_ball, dyadic_to_float64), the sign of a zero included
    results      what the witness returns: ExactArray (one quantity as balls, with its float64
                 values), Within (a comparison decided on the balls), ExactBackprop
    activations  phi and phi' of each activation on one ball (ACTIVATIONS), kinks included
    losses       each loss and n dE/dh^L on balls (LOSSES)
    inputs       what the witness reads of a case, and the checks of params, x and y
    network      the seed's equations on balls, one run at one precision, and exact_backprop

Limits. python-flint's working precision is process-global: do not call exact_backprop from two
threads at once (the gate runs cases in processes). The cost per gate case is 0.8 ms median,
15 ms at the 99th percentile with need=GRADIENTS (1.4 ms and 35 ms with every quantity),
6 to 10 times reference.gradients (benchmarks/bench_exact_witness.py), most of it Python calls
per entry. An entry that never resolves (a tie perturbed by e^-1e6; a relu unit exactly at its
kink through inexact terms, e.g. fed tanh(a) - tanh(a)) costs a run at every precision up to
MAX_BITS, about 34 times a plain run.

This package imports NumPy and python-flint only, and reads arch.sizes, arch.activations and
arch.loss: it is an oracle independent of the reference. Its public names are imported here.
"""

from verification.oracles.exact.activations import ACTIVATIONS, BallActivation
from verification.oracles.exact.inputs import ArchitectureLike
from verification.oracles.exact.losses import LOSSES
from verification.oracles.exact.network import exact_backprop
from verification.oracles.exact.precision import (
    MAX_BITS,
    START_BITS,
    dyadic_to_float64,
    round_ball,
    working_precision,
)
from verification.oracles.exact.results import (
    GRADIENTS,
    QUANTITIES,
    ExactArray,
    ExactBackprop,
    Within,
)

__all__ = [
    "ACTIVATIONS",
    "GRADIENTS",
    "LOSSES",
    "MAX_BITS",
    "QUANTITIES",
    "START_BITS",
    "ArchitectureLike",
    "BallActivation",
    "ExactArray",
    "ExactBackprop",
    "Within",
    "dyadic_to_float64",
    "exact_backprop",
    "round_ball",
    "working_precision",
]
