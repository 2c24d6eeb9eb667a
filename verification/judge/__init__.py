"""The third stage of the gate: judging one implementation on one case.

    findings  Finding and Verdict: what judging produces
    call      the checks on the call: an exception, mutation, the structure of the result,
              non-finite values
    values    the checks on the values: the one judge of gradient values against witnesses
              (torch.autograd, finite differences, a golden vector, a first call)
    compare   the entrywise comparison, summarised like torch.testing.assert_close
    hints     the patterns of classic bugs, recognised in a wrong gradient

`judge(impl, case, oracles, dtype)` runs the checks in the order a reader needs them:

    1. the call itself       an exception is a failure carrying its message;
    2. mutation              the arguments are compared with private copies after the call;
    3. structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    4. non-finite values     NaN or Inf in a gradient;
    5. the oracles           torch.autograd and finite differences, entrywise within the
                             rounding-error allowance of verification.oracles.tolerance;
    6. determinism           a second call must agree with the first within that allowance.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from verification.cases import Case
from verification.judge.call import (
    Caller,
    InProcess,
    Outcome,
    call_findings,
    check_structure,
    find_non_finite,
)
from verification.judge.findings import Finding, Verdict, in_reading_order
from verification.judge.values import judge_values, nondeterminism, witnesses_of

if TYPE_CHECKING:
    from verification.oracles.consult import Oracles

__all__ = ["Caller", "Finding", "InProcess", "Outcome", "Verdict", "judge"]


def judge(
    caller: Caller,
    case: Case,
    dtype: str = "float64",
    oracles_of: Callable[[Case, str], "Oracles"] | None = None,
) -> Verdict:
    """Run every check of the gate on one case and return what it found.

    `caller` calls the implementation (judge.call.InProcess, or gate.isolation.Isolated).
    The oracles are consulted (`oracles_of`, by default Oracles.of) only after the
    implementation has answered, and only when its answer has values to judge.
    """
    if oracles_of is None:
        from verification.oracles.consult import Oracles

        oracles_of = Oracles.of
    first = caller(case)
    findings = call_findings(first)
    skipped = 0
    if first.returned is not None:
        grads, malformed = check_structure(first.returned, case, dtype)
        if grads is None:
            findings.append(malformed)
        else:
            values = find_non_finite(grads)
            oracles = None
            if values is None:
                oracles = oracles_of(case, dtype)
                skipped = oracles.finite_differences.skipped_count
                values = judge_values(
                    grads,
                    case,
                    witnesses_of(oracles),
                    exact=lambda: oracles.exact,
                    allowed=oracles.allowed,
                )
            found = [f for f in (malformed, values) if f is not None]
            if not found and oracles is not None:
                found = [f for f in [_second_call(caller, case, grads, oracles, dtype)] if f]
            findings += found
    return Verdict(case, in_reading_order(findings), skipped)


def _second_call(
    caller: Caller, case: Case, first: list, oracles: "Oracles", dtype: str
) -> Finding | None:
    """Called again on the same case, the results must agree within the rounding allowance."""
    again: Outcome = caller(case)
    problems = call_findings(Outcome(raised=again.raised, failure=again.failure))
    if problems:  # (a mutation was reported on the first call already)
        message = f"the second call on the same case: {problems[0].message}"
        return Finding("nondeterministic", message)
    second, bad = check_structure(again.returned, case, dtype)
    if bad is not None:
        return Finding("nondeterministic", f"the second call on the same case: {bad.message}")
    return nondeterminism(first, second, case, oracles.allowed)
