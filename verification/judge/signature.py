"""What makes two failures the same, and which failure reads best.

    signature(verdict)  the kind of the first finding, its layer counted from the top (L - l),
                        its diagnosis, and for an exception its type and message with the
                        numbers taken out (they change with the shapes)
    SameFailure         the predicate of shrinking: a candidate case fails the same way as the
                        original (the same signature), so that the smallest case shown is the
                        same bug, not another failure met on the way
    readability         a sort key for failures: unsaturated and small cases first

The gate applies `readability` to its failed verdicts before it shrinks and prints them
(verification.gate.check, where it gathers its failures), so that the first failure shown,
and the ones shrunk, are the easiest to read: the saturated and the large come last, unless
that is all there is.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import reference
from reference.activations import ACTIVATIONS
from verification.cases import Case
from verification.judge.findings import Verdict


@dataclass(frozen=True)
class Signature:
    """What a failure is, apart from its numbers."""

    kind: str
    from_top: int | None  # L - l for the layer l where the error starts; None if unknown
    diagnosis: str | None
    error: str | None  # an exception's "Type: message", every number replaced by #


def signature(verdict: Verdict) -> Signature | None:
    """The signature of a failed verdict's first finding (None for a passed verdict)."""
    if verdict.passed:
        return None
    main = verdict.findings[0]
    from_top = verdict.case.L - main.layer if main.layer is not None else None
    error = re.sub(r"\d+", "#", main.error) if main.error is not None else None
    return Signature(main.kind, from_top, main.diagnosis.name if main.diagnosis else None, error)


class SameFailure:
    """The predicate of verification.cases.shrink: `candidate` fails as `original` does.

    judge_case(candidate) judges a candidate. The verdict of the last candidate that failed
    the same way is kept in `last` (the original's until one does): shrinking ends on that
    candidate, so `last` is the smallest failing case's verdict.
    """

    def __init__(self, original: Verdict, judge_case: Callable[[Case], Verdict]) -> None:
        self.signature = signature(original)
        self.judge_case = judge_case
        self.last = original

    def __call__(self, candidate: Case) -> bool:
        verdict = self.judge_case(candidate)
        if verdict.passed or signature(verdict) != self.signature:
            return False
        self.last = verdict
        return True


SATURATED_Z = 20.0
"""|z| beyond which a saturating unit reads as saturated: tanh'(20) ~ 2e-17, sigma'(20) ~ 2e-9
(the lower end of the saturated regime, verification.cases.draw.SATURATION). Logits beyond it
put softmax probabilities below e^-20 ~ 2e-9."""
TINY_GRADIENT = 2.0**-26
"""Gradients whose largest entry is below sqrt(u) of float64 read as tiny: half their digits are
rounding noise in any textbook implementation."""


def extreme(case: Case) -> bool:
    """Whether the case is saturated, has large logits or only tiny gradients (from the
    reference's own backprop on it)."""
    with np.errstate(all="ignore"):
        bp = reference.backprop(case.arch, case.params, case.x, case.y)
    for l in range(1, case.L + 1):
        name = case.arch.activations[l - 1]
        if ACTIVATIONS[name].saturates and np.abs(bp.z[l]).max(initial=0.0) > SATURATED_Z:
            return True
    if case.arch.loss != "squared_error" and np.abs(bp.h[case.L]).max() > SATURATED_Z:
        return True
    largest = max(np.abs(g).max(initial=0.0) for pair in bp.grads for g in pair)
    return not largest >= TINY_GRADIENT


def readability(verdict: Verdict) -> tuple[bool, int, int]:
    """Sort key of a failed verdict: ordinary cases before extreme ones, then the fewest
    numbers to read (parameters and inputs), then the case index."""
    case = verdict.case
    size = case.arch.parameter_count + case.x.size
    return (extreme(case), size, case.index if case.index is not None else 0)
