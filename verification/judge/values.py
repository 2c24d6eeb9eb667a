"""The checks on the values: the one judge of gradient values, used by every path.

A witness says what each gradient entry should be and how far a correct implementation may lie
from it (verification.oracles.tolerance). The gate calls upon torch.autograd and finite
differences (`witnesses_of`), a second call of the implementation is judged against the first
(`nondeterminism`), and verification.vectors judges a result file against its vector; each of
them hands its witnesses to `judge_values`, and `where_it_starts` alone decides where the error
starts and which array speaks for it (verification.judge.diagnoses then says what is wrong).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from reference.types import Params
from verification.cases import Case
from verification.judge.arbiter import arbitrate, flagged_entries
from verification.judge.call import PartialGrads
from verification.judge.compare import Mismatch, beyond, compare
from verification.judge.findings import Finding

if TYPE_CHECKING:  # the oracles import torch, which judging a golden vector does not need
    from verification.oracles.consult import Oracles
    from verification.oracles.exact import ExactBackprop

TORCH = "torch.autograd"
FINITE_DIFFERENCES = "finite differences"
ALLOWANCES = 2
"""Two correct results may differ by A(one) + A(other): each side has its own rounding allowance
(verification.oracles.tolerance). Applied against torch.autograd, against a golden vector and
between two calls."""


@dataclass(frozen=True)
class Witness:
    """What one witness says about every gradient entry of a case.

    grads: [(dE/dW^l, dE/db^l) for l = 1..L]; allowed: the largest |got - grads| that a
    correct implementation may show, entrywise, in the same shapes; skipped: entries this
    witness cannot judge (finite differences across a kink), or None.
    """

    name: str
    grads: Params
    allowed: Params
    skipped: list[tuple[np.ndarray, np.ndarray]] | None = None
    why_skipped: tuple[tuple[str, list[tuple[np.ndarray, np.ndarray]]], ...] = ()
    """(reason, masks) for each reason an entry is skipped, e.g. ("kink", ...)."""

    def verdict_at(self, layer: int, param: str, index: tuple[int, ...], off: bool) -> str:
        """What this witness says of one entry: "<name> beyond allowance", "<name> within
        allowance" or "<name> did not judge it (<reason>)"."""
        k = "Wb".index(param)
        for reason, masks in self.why_skipped:
            if masks[layer - 1][k][index]:
                return f"{self.name} did not judge it ({reason})"
        return f"{self.name} {'beyond' if off else 'within'} allowance"


def witnesses_of(oracles: "Oracles") -> list[Witness]:
    """torch.autograd within A(implementation) + A(torch), then finite differences within
    A(implementation) + A(its forward pass) plus each estimate's own error estimate: the
    estimate differentiates the forward pass as computed, whose rounding moves the point it
    differentiates at by what A bounds (verification.oracles.finite_differences). Finite
    differences do not judge entries whose step crosses a kink or for which no step was
    trustworthy."""
    allowed, fd = oracles.allowed, oracles.finite_differences
    return [
        Witness(TORCH, oracles.torch, [(ALLOWANCES * aW, ALLOWANCES * ab) for aW, ab in allowed]),
        Witness(
            FINITE_DIFFERENCES,
            fd.grads,
            [
                (ALLOWANCES * aW + eW, ALLOWANCES * ab + eb)
                for (aW, ab), (eW, eb) in zip(allowed, fd.error, strict=True)
            ],
            fd.unjudged,
            (("kink", fd.skipped), ("no trustworthy step", fd.untrusted)),
        ),
    ]


def judge_values(
    grads: PartialGrads,
    case: Case,
    witnesses: Sequence[Witness],
    kind: str = "mismatch",
    exact: Callable[[], "ExactBackprop"] | None = None,
    allowed: Params | None = None,
) -> Finding | None:
    """Every entry of `grads` against every witness; a finding (of `kind`) if any is beyond
    its allowance, else None. Arrays that are None (malformed) are passed over.

    With `exact` (the exact witness of the case, computed when first called) and `allowed`
    (the allowance A of one correct implementation), the exact witness rules on every flagged
    entry before the case fails (verification.judge.arbiter).
    """
    mismatches = [
        m for w in witnesses for m in compare(grads, w.grads, w.allowed, w.name, w.skipped)
    ]
    if not mismatches:
        return None
    if exact is not None and allowed is not None:
        witness = exact()
        mismatches = arbitrate(grads, flagged_entries(grads, witnesses), witness.grads, allowed)
        if not mismatches:
            return None  # every disagreement contradicted by the exact witness
    mismatches = [_with_witnesses(m, grads, witnesses) for m in mismatches]
    return where_it_starts(kind, mismatches)


def _with_witnesses(m: Mismatch, grads: PartialGrads, witnesses: Sequence[Witness]) -> Mismatch:
    """The mismatch, with what every witness says of its worst entry."""
    k = "Wb".index(m.param)
    got = grads[m.layer - 1][k]
    said = []
    for w in witnesses:
        expected, allowed = w.grads[m.layer - 1][k], w.allowed[m.layer - 1][k]
        off = bool(beyond(got[m.index], expected[m.index], allowed[m.index]))
        said.append(w.verdict_at(m.layer, m.param, m.index, off))
    return replace(m, witnesses=tuple(said))


def where_it_starts(kind: str, mismatches: list[Mismatch], *, prefix: str = "") -> Finding:
    """The one judgment of where an error starts.

    Backprop runs from layer L down, and an error made at layer l spoils layers l, l - 1, ...,
    1 but none above: the highest layer that disagrees is where the error starts. Its worst
    array speaks for it: the first witness's mismatch before the others', then the one with
    the most entries beyond allowance. (verification.judge.diagnoses then says what is wrong.)
    """
    start = max(m.layer for m in mismatches)
    rank = {name: i for i, name in enumerate(dict.fromkeys(m.oracle for m in mismatches))}
    worst = max(
        (m for m in mismatches if m.layer == start), key=lambda m: (-rank[m.oracle], m.count)
    )
    return Finding(
        kind, prefix + worst.describe(), start, worst.param, mismatches=tuple(mismatches)
    )


def nondeterminism(
    first: PartialGrads, second: PartialGrads, case: Case, allowed: Params
) -> Finding | None:
    """A second call on the same case must agree with the first within ALLOWANCES allowances
    (a sum whose order changes between calls is legitimate; state that persists is not).
    What persists is diagnosed by verification.judge.diagnoses.repeated_call."""
    witness = Witness(
        "the first call", first, [(ALLOWANCES * aW, ALLOWANCES * ab) for aW, ab in allowed]
    )
    found = judge_values(second, case, [witness], kind="nondeterministic")
    if found is None:
        return None
    return Finding(
        "nondeterministic",
        f"called twice on the same case, {found.message}",
        found.layer,
        found.param,
        mismatches=found.mismatches,
    )
