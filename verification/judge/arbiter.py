"""The exact witness decides every disagreement before a case fails on a value.

torch.autograd and finite differences are approximate witnesses: each can be wrong (torch's
derivatives lose their digits in saturated tails; a finite difference across curvature it did
not foresee). When either flags an entry, the exact witness (verification.oracles.exact:
backprop in ball arithmetic, every entry proved to lie in its ball) rules on it: the entry
fails only if |got - exact| > A, where A is the allowance of a correct implementation
(verification.oracles.tolerance: a correct implementation lies within A of the exact
gradient), proved for every point of the ball. An entry the exact witness finds within A
passes, whatever the approximate witnesses said: no failure is reported that the exact witness
contradicts. An entry whose ball straddles A (rare: an unresolved ball at the edge of the
allowance) keeps the approximate witnesses' verdict, and the report says the exact witness
could not decide.

It runs only where needed: on the cases where an approximate witness flagged something, which
a correct implementation almost never meets; its cost there is a few milliseconds per case
(verification.oracles.exact).
"""

from collections.abc import Sequence

import numpy as np

from reference.types import Params
from verification.judge.call import PartialGrads
from verification.judge.compare import Mismatch, beyond

EXACT = "the exact witness"


def flagged_entries(grads: PartialGrads, witnesses: Sequence) -> list[tuple[int, str, np.ndarray]]:
    """(layer, "W" or "b", mask) for every array with an entry beyond some witness's
    allowance; masks exclude what a witness skipped."""
    flagged = []
    for l in range(1, len(grads) + 1):
        for k, param in enumerate("Wb"):
            got = grads[l - 1][k]
            if got is None:
                continue
            mask = np.zeros(got.shape, dtype=bool)
            for w in witnesses:
                bad = beyond(got, w.grads[l - 1][k], w.allowed[l - 1][k])
                if w.skipped is not None:
                    bad &= ~w.skipped[l - 1][k]
                mask |= bad
            if mask.any():
                flagged.append((l, param, mask))
    return flagged


def arbitrate(
    grads: PartialGrads,
    flagged: list[tuple[int, str, np.ndarray]],
    exact_grads: list,
    allowed: Params,
) -> list[Mismatch]:
    """The flagged entries the exact witness confirms beyond their allowance A (or cannot
    decide), as Mismatches against the exact value; entries it finds within A are dropped.

    exact_grads: [(ExactArray of dE/dW^l, ExactArray of dE/db^l)] (ExactBackprop.grads);
    allowed: A of one correct implementation, entrywise.
    """
    confirmed = []
    for l, param, mask in flagged:
        k = "Wb".index(param)
        got, exact, A = grads[l - 1][k], exact_grads[l - 1][k], allowed[l - 1][k]
        ruling = exact.within(got, A)
        failing = mask & (ruling.outside | ruling.undecided)
        if not failing.any():
            continue
        value = exact.value
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = np.abs(got - value) / np.maximum(A, np.finfo(float).tiny)
        ratio = np.where(failing, np.where(np.isnan(ratio), np.inf, ratio), -1.0)
        worst = np.unravel_index(int(np.argmax(ratio)), got.shape)
        confirmed.append(
            Mismatch(
                oracle=EXACT,
                layer=l,
                param=param,
                count=int(failing.sum()),
                total=int(failing.size),
                index=tuple(int(i) for i in worst),
                expected=float(value[worst]),
                got=float(got[worst]),
                allowed=float(A[worst]),
                ulps=float(exact.ulp_distance(got)[worst]),
                undecided=bool(ruling.undecided[worst]),
            )
        )
    return confirmed
