"""The third stage of the gate: judging one implementation on one case.

    findings    Finding, Diagnosis and Verdict: what judging produces
    returned    what an implementation returned, as plain data (shared with the child process)
    call        the checks on the call: an exception, a crash, mutation, the structure of the
                result, non-finite values
    values      the checks on the values: the one judge of gradient values against witnesses
                (torch.autograd, finite differences, a golden vector, a first call)
    arbiter     the exact witness, which rules on every disagreement before a case fails
    compare     the entrywise comparison, summarised like torch.testing.assert_close
    diagnoses   what the person got wrong: hypotheses (backprop re-run with one step changed),
                overflow, exact patterns; hints where nothing is established
    hypotheses  backprop under a hypothesis, every quantity with its rounding bound
    known_bugs  the hypotheses, one class per known bug
    magnitudes  the largest |z^l| and logits of a case, and where a formula overflows on it
    signature   what makes two failures the same (for shrinking), and which reads best

`judge(caller, case, dtype)` runs the checks in the order a reader needs them:

    1. the call itself       an exception, a crash or a timeout is a failure of its own kind;
    2. mutation              the arguments are compared with the case as drawn, bit for bit;
    3. structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    4. non-finite values     NaN or Inf in a gradient;
    5. the oracles           torch.autograd and finite differences, entrywise within the
                             rounding-error allowance of verification.oracles.tolerance, and
                             the exact witness on every entry they flag;
    6. determinism           a second call must agree with the first within that allowance.

The first finding in reading order is then diagnosed (`conclude`), once, for every path.
"""

from collections.abc import Callable
from dataclasses import replace
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
from verification.judge.diagnoses import diagnose, repeated_call
from verification.judge.findings import Diagnosis, Finding, Verdict, in_reading_order
from verification.judge.hypotheses import returned_arrays
from verification.judge.magnitudes import with_overflow_origin
from verification.judge.returned import Returned
from verification.judge.values import judge_values, nondeterminism, witnesses_of

if TYPE_CHECKING:
    from verification.oracles.consult import Oracles

__all__ = [
    "Caller",
    "Diagnosis",
    "Finding",
    "InProcess",
    "Outcome",
    "Verdict",
    "conclude",
    "judge",
]


def judge(
    caller: Caller,
    case: Case,
    dtype: str = "float64",
    oracles_of: Callable[[Case, str], "Oracles"] | None = None,
    arbiter: bool = True,
) -> Verdict:
    """Run every check of the gate on one case and return what it found.

    `caller` calls the implementation (judge.call.InProcess, or gate.isolation.Isolated).
    The oracles are consulted (`oracles_of`, by default Oracles.of) only after the
    implementation has answered, and only when its answer has values to judge. arbiter=False
    leaves out the exact witness, to judge by the approximate witnesses alone (how the tests
    and the false-alarm sweep show that those alone do not cry wolf).
    """
    if oracles_of is None:
        from verification.oracles.consult import Oracles

        oracles_of = Oracles.of
    first = caller(case)
    findings = call_findings(first)
    skipped = untrusted = 0
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
                untrusted = oracles.finite_differences.untrusted_count
                values = judge_values(
                    grads,
                    case,
                    witnesses_of(oracles),
                    exact=(lambda: oracles.exact) if arbiter else None,
                    allowed=oracles.allowed,
                )
            found = [f for f in (malformed, values) if f is not None]
            if not found and oracles is not None:
                found = [f for f in [_second_call(caller, case, grads, oracles, dtype)] if f]
            findings += found
    return conclude(case, findings, first.returned, dtype, skipped, untrusted)


def conclude(
    case: Case,
    findings: list[Finding],
    returned: Returned | None,
    dtype: str = "float64",
    skipped: int = 0,
    untrusted: int = 0,
) -> Verdict:
    """The verdict on one case: the findings in reading order, the first one diagnosed
    (verification.judge.diagnoses), and what was returned, kept for the report of a failure.

    A NaN or Inf, or a numeric exception, is named at the layer and magnitude where an overflow
    starts on the case (judge.magnitudes.where_it_overflows). A diagnosis that knows where the
    error starts names the layer of an exception, whose own layer is a guess read from the
    implementation's local variables.
    """
    if not findings:
        return Verdict(case, (), skipped, untrusted=untrusted)
    arrays = returned_arrays(returned, case)
    main, *others = in_reading_order([with_overflow_origin(f, case, dtype) for f in findings])
    diagnosis = diagnose(case, main, arrays, dtype)
    if diagnosis is not None:
        layer = main.layer
        if diagnosis.layer is not None and (layer is None or main.kind == "exception"):
            layer = diagnosis.layer
        main = replace(main, diagnosis=diagnosis, layer=layer)
    return Verdict(case, (main, *others), skipped, arrays, untrusted)


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
    found = nondeterminism(first, second, case, oracles.allowed)
    if found is None:
        return None
    return replace(found, diagnosis=repeated_call(first, second, oracles.allowed))
