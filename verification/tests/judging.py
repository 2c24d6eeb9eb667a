"""Judging by the approximate witnesses alone (torch.autograd and finite differences, without
the exact witness's ruling): how the tests and the false-alarm sweep show that those alone do
not fail correct code."""

from collections.abc import Callable

from verification.cases import Case
from verification.judge import InProcess, Verdict, judge
from verification.oracles.consult import Oracles


def approximate_verdict(impl: Callable, case: Case, oracles: Oracles | None = None) -> Verdict:
    """The judge's verdict on impl (in this process), its oracles given or consulted."""
    answers = Oracles.of(case) if oracles is None else oracles
    return judge(InProcess(impl), case, oracles_of=lambda *_: answers, arbiter=False)
