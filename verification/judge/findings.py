"""What judging a case produces: findings, each with its diagnosis, gathered into a verdict."""

from dataclasses import dataclass

import numpy as np

from verification.cases import Case
from verification.judge.compare import Mismatch

KINDS = (
    "exception",
    "mutation",
    "structure",
    "non-finite",
    "mismatch",
    "nondeterministic",
    "missing",
    "malformed",
)
"""Every kind of finding: the first six come from judging a call, the last two from reading
a result file (verification.vectors)."""


@dataclass(frozen=True)
class Diagnosis:
    """What the person got wrong, established on the case (verification.judge.diagnoses).

    name: a key of diagnoses.DIAGNOSES; text: what was done, with the case's numbers;
    evidence: how it was established; also: (name, text) of other diagnoses that fit the
    result just as well (the case cannot tell them apart);
    layer: where the error starts when the diagnosis knows better than the finding (the layer
    where an overflow starts, or where the re-run raised), else None.
    """

    name: str
    text: str
    evidence: str
    also: tuple[tuple[str, str], ...] = ()
    layer: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """This diagnosis's name and those of its equal alternatives."""
        return (self.name, *(name for name, _ in self.also))


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the implementation on one case.

    kind: one of KINDS.
    hint: a guess where nothing is established; diagnosis: what is (judge.diagnoses).
    layer: the layer (1..L) where the error starts, when one can be named; for value
    mismatches it is the highest layer that disagrees, since backprop runs from layer L down
    and an error made at layer l spoils layers l, l - 1, ..., 1 but none above.
    """

    kind: str
    message: str
    layer: int | None = None
    param: str | None = None
    hint: str | None = None
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None  # an exception, as "Type: message"
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True)
class Verdict:
    """The findings on one case (none: it passed) and what the oracles could not judge.

    findings come in the order a reader should see them: a failed call or a mutation first,
    then the others from the highest layer down (where the error starts first).
    """

    case: Case
    findings: tuple[Finding, ...]
    skipped: int = 0  # finite-difference entries whose perturbation crossed a kink
    # what the implementation returned, as float64 arrays (None where unreadable), or None
    grads: list[tuple[np.ndarray | None, np.ndarray | None]] | None = None
    untrusted: int = 0  # finite-difference entries for which no step was trustworthy

    @property
    def passed(self) -> bool:
        return not self.findings


def in_reading_order(findings: list[Finding]) -> tuple[Finding, ...]:
    """A failed call or a mutation first, then the highest layer first (where the error
    starts); the sort is stable, so findings of one rank keep their order."""
    return tuple(
        sorted(findings, key=lambda f: (f.kind not in ("exception", "mutation"), -(f.layer or 0)))
    )
