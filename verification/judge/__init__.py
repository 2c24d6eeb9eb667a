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
from verification.judge.call import call, check_structure, find_non_finite, mutations
from verification.judge.findings import Finding, Verdict, in_reading_order
from verification.judge.values import judge_values, nondeterminism, witnesses_of

if TYPE_CHECKING:
    from verification.oracles.consult import Oracles

__all__ = ["Finding", "Verdict", "judge"]


def judge(impl: Callable, case: Case, oracles: "Oracles", dtype: str = "float64") -> Verdict:
    """Run every check of the gate on one case and return what it found."""
    fd = oracles.finite_differences
    result, failed, given = call(impl, case)
    findings = [f for f in (failed, mutations(case, *given)) if f is not None]
    if failed is None:
        grads, malformed = check_structure(result, case, dtype)
        if grads is None:
            findings.append(malformed)
        else:
            values = find_non_finite(grads) or judge_values(grads, case, witnesses_of(oracles))
            found = [f for f in (malformed, values) if f is not None]
            if not found:
                found = [f for f in [_second_call(impl, case, grads, oracles, dtype)] if f]
            findings += found
    return Verdict(case, in_reading_order(findings), fd.skipped_count, fd.untrusted_count)


def _second_call(
    impl: Callable, case: Case, first, oracles: "Oracles", dtype: str
) -> Finding | None:
    """Called again on the same case, the results must agree within the rounding allowance."""
    result, failed, _ = call(impl, case)
    if failed is not None:
        return Finding("nondeterministic", f"the second call on the same case {failed.message}")
    second, bad = check_structure(result, case, dtype)
    if bad is not None:
        return Finding("nondeterministic", f"the second call on the same case: {bad.message}")
    return nondeterminism(first, second, case, oracles.allowed)
