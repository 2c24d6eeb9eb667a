"""The third stage of the gate: judging one implementation on one case.

    findings  Finding and Verdict: what judging produces
    call      the checks on the call: an exception, mutation, the structure of the result,
              non-finite values
    values    the checks on the values: the one judge of gradient values against witnesses
              (torch.autograd, finite differences, a golden vector, a first call)
    compare   the entrywise comparison, summarised like torch.testing.assert_close
    diagnoses what the person got wrong: hypotheses (backprop re-run with one step changed),
              overflow, exact patterns; hints where nothing is established
    hypotheses  backprop under a hypothesis, every quantity with its rounding bound
    known_bugs  the hypotheses, one class per known bug
    magnitudes  the largest |z^l| and logits of a case, and where a formula overflows on it
    signature   what makes two failures the same (for shrinking), and which reads best

`judge(impl, case, oracles, dtype)` runs the checks in the order a reader needs them:

    1. the call itself       an exception is a failure carrying its message;
    2. mutation              the arguments are compared with private copies after the call;
    3. structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    4. non-finite values     NaN or Inf in a gradient;
    5. the oracles           torch.autograd and finite differences, entrywise within the
                             rounding-error allowance of verification.oracles.tolerance;
    6. determinism           a second call must agree with the first within that allowance.

The first finding in reading order is then diagnosed (`conclude`), once, for every path.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from verification.cases import Case
from verification.judge.call import call, check_structure, find_non_finite, mutations
from verification.judge.diagnoses import diagnose, repeated_call
from verification.judge.findings import Diagnosis, Finding, Verdict, in_reading_order
from verification.judge.hypotheses import returned_arrays
from verification.judge.magnitudes import with_overflow_origin
from verification.judge.values import judge_values, nondeterminism, witnesses_of

if TYPE_CHECKING:
    from verification.oracles.consult import Oracles

__all__ = ["Diagnosis", "Finding", "Verdict", "conclude", "judge"]


def judge(impl: Callable, case: Case, oracles: "Oracles", dtype: str = "float64") -> Verdict:
    """Run every check of the gate on one case and return what it found."""
    skipped = oracles.finite_differences.skipped_count
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
    return conclude(case, findings, result if failed is None else None, dtype, skipped)


def conclude(
    case: Case, findings: list[Finding], returned: object, dtype: str = "float64", skipped: int = 0
) -> Verdict:
    """The verdict on one case: the findings in reading order, the first one diagnosed
    (verification.judge.diagnoses), and what was returned, kept for the report of a failure.

    A NaN or Inf, or a numeric exception, is named at the layer and magnitude where an overflow
    starts on the case (judge.magnitudes.where_it_overflows). A diagnosis that knows where the
    error starts names the layer of an exception, whose own layer is a guess read from the
    implementation's local variables.
    """
    if not findings:
        return Verdict(case, (), skipped)
    main, *others = in_reading_order([with_overflow_origin(f, case, dtype) for f in findings])
    diagnosis = diagnose(case, main, returned, dtype)
    if diagnosis is not None:
        layer = main.layer
        if diagnosis.layer is not None and (layer is None or main.kind == "exception"):
            layer = diagnosis.layer
        main = replace(main, diagnosis=diagnosis, layer=layer)
    return Verdict(case, (main, *others), skipped, returned_arrays(returned, case))


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
    found = nondeterminism(first, second, case, oracles.allowed)
    if found is None:
        return None
    return replace(found, diagnosis=repeated_call(first, second, oracles.allowed))
