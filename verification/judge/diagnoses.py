"""Diagnoses: what the person got wrong, named with the numbers of the case.

A diagnosis is a bug class (DIAGNOSES) established on the failing case, never a guess:

    hypotheses  backprop re-run on the case with one step changed (verification.judge.
                hypotheses): the diagnosis whose computation gives every returned entry
                within that computation's rounding allowance, or raises the same exception;
    float32     every entry within the float32 allowance, some beyond float64's;
    overflow    a NaN or Inf, or a numeric exception, on a case whose forward pass reaches
                the overflow point of a textbook formula (verification.judge.magnitudes);
    patterns    only where a hypothesis of the whole computation does not fit: the array
                where the error starts is an exact multiple of the expected one, or its
                transpose, or exactly zero, each within the allowance;
    the kind    an in-place update (mutation), gradients accumulated across calls or other
                persistent state (a second call on the same case).

Every test above is made with a tolerance derived from the rounding-error allowance, and each
requires the diagnosis to be told apart from the correct gradient beyond both tolerances: no
correct implementation can be diagnosed. `diagnose` makes the decision for every path (the
gate, golden vectors, the pytest fixture); hints (shape_hint and the constants below) are the
guesses offered where nothing is established.
"""

from dataclasses import dataclass

import numpy as np

from verification.cases import Case
from verification.judge.call import expected_shapes
from verification.judge.findings import Diagnosis, Finding
from verification.judge.hints import ACCUMULATION, MUTATION, PERSISTENT_STATE
from verification.judge.hypotheses import (
    Bounded,
    ReturnedArrays,
    Trace,
    explains,
    float32_inside,
    returned_arrays,
)
from verification.judge.known_bugs import hypotheses
from verification.judge.magnitudes import is_numeric_error, overflow_in
from verification.judge.returned import describe, max_entries
from verification.judge.values import ALLOWANCES


@dataclass(frozen=True)
class BugClass:
    """One diagnosis: the class of bug it belongs to and what it says, in general."""

    family: str
    summary: str


DIAGNOSES: dict[str, BugClass] = {
    "dphi_at_h": BugClass("phi' of h instead of z", "phi'(h^l) where phi'(z^l) belongs"),
    "kink_convention": BugClass(
        "another kink convention", "relu'(0) = 1, leaky_relu'(0) = 1 or 1/2 at the kink"
    ),
    "missing_mean": BugClass("a missing or doubled 1/n", "no 1/n: the sum for the mean"),
    "doubled_mean": BugClass("a missing or doubled 1/n", "1/n applied twice"),
    "mean_for_sum": BugClass("sum for mean, mean for sum", "dE/db as the mean of delta"),
    "transposed_weight_gradient": BugClass("transposes", "delta^T h for h^T delta"),
    "transposed_recursion": BugClass("transposes", "delta W for delta W^T"),
    "off_by_one_layer": BugClass("an off-by-one layer", "h^l for h^{l-1}; L - 1 pairs"),
    "reversed_layers": BugClass("an off-by-one layer", "the pairs in the order L..1"),
    "wrong_layer_weights": BugClass("W^l for W^{l+1}", "W^l in the recursion to layer l"),
    "dropped_term": BugClass("a term of the recursion dropped", "phi' left out of delta"),
    "clipped_probabilities": BugClass("clipped probabilities or logits", "p in [eps, 1-eps]"),
    "clipped_logits": BugClass("clipped probabilities or logits", "h^L in [-C, C]"),
    "overflow": BugClass("overflow", "e^z past 709.78 in sigmoid, softplus or a softmax"),
    "sign": BugClass("a sign error in the loss gradient", "y - h for h - y"),
    "float32_inside": BugClass("float32 inside a float64 interface", "float32 arithmetic"),
    "squared_error_factor": BugClass("a constant factor", "the 1/2 of squared_error"),
    "no_softmax": BugClass("a term of the recursion dropped", "h - onehot for softmax - onehot"),
    "wrong_slope": BugClass("a wrong phi'", "1 - tanh z, sigma(z), 1 - z^2, z (1 - z)"),
    "bias_wrong_axis": BugClass("transposes", "delta.sum(axis=1) for the column sums"),
    "squeeze": BugClass("shapes", "a squeeze() that drops an axis of length 1"),
    "in_place_update": BugClass("state", "the arguments modified"),
    "accumulation": BugClass("state", "gradients accumulated across calls"),
    "persistent_state": BugClass("state", "a result that depends on earlier calls"),
    "zero_gradient": BugClass("patterns", "an array that is exactly 0"),
    "constant_factor": BugClass("patterns", "an array that is c times the expected one"),
}
"""Every diagnosis the judge may name, with its bug class (docs/diagnoses.md tabulates them)."""

# --- the diagnoses ------------------------------------------------------------------------

FLOAT32_INSIDE = Diagnosis(
    "float32_inside",
    "float32 arithmetic inside a float64 interface: every entry is as close to the expected "
    "gradient as float32 rounding allows, and no closer (params, x or a product cast to "
    "float32, or a float32 default dtype somewhere); keep float64 throughout, or if float32 is "
    "intended, judge it with --dtype float32 (dtype='float32' in verification.check)",
    "every entry lies within the float32 allowance; some lie beyond float64's",
)


def diagnose(
    case: Case, finding: Finding, arrays: ReturnedArrays, dtype: str = "float64"
) -> Diagnosis | None:
    """What the person got wrong, established on `case` (module docstring), or None.

    `finding` is what the judge found first; `arrays` what the implementation returned, as
    arrays (hypotheses.returned_arrays; for an exception, finding.error describes it).
    """
    if finding.diagnosis is not None:  # the second call already said what it is
        return finding.diagnosis
    if finding.kind == "mutation":
        return Diagnosis(
            "in_place_update",
            f"the implementation changes its arguments: {MUTATION}",
            "params, x and y differ from private copies after the call",
        )
    if finding.kind == "non-finite":
        return _overflow(case, dtype)
    if finding.kind not in ("exception", "structure", "mismatch"):
        return None
    trace = Trace(case, dtype)
    arrays = arrays if finding.kind != "exception" else None
    found = _by_hypothesis(trace, arrays, finding.error)
    if found is None and finding.kind == "mismatch" and float32_inside(trace, arrays):
        found = FLOAT32_INSIDE
    if found is None and finding.kind == "exception" and is_numeric_error(finding.error or ""):
        found = _overflow(case, dtype)
    if found is None and finding.kind == "mismatch":
        found = _pattern(trace, finding, arrays)
    return found


def established(case: Case, result: object, dtype: str = "float64") -> list[Diagnosis]:
    """Every diagnosis that `result` (an implementation's return value, in this process)
    supports on `case`, whether or not the judge failed it: each hypothesis, float32
    arithmetic, and the patterns of every array. A correct result supports none
    (verification.zoo.rates measures it)."""
    trace = Trace(case, dtype)
    returned = describe(result, expected_shapes(case), max_entries(case.n, case.arch.sizes))
    arrays = returned_arrays(returned, case)
    found = [d for d in [_by_hypothesis(trace, arrays, None)] if d is not None]
    if float32_inside(trace, arrays):
        found.append(FLOAT32_INSIDE)
    for l in range(1, case.L + 1):
        for param in "Wb":
            pattern = _pattern(trace, Finding("mismatch", "", l, param), arrays)
            if pattern is not None:
                found.append(pattern)
    return found


def _by_hypothesis(trace: Trace, arrays: ReturnedArrays, error: str | None) -> Diagnosis | None:
    explained = [e for h in hypotheses(trace) if (e := explains(h, trace, arrays, error))]
    if not explained:
        return None
    first, *others = explained
    also: dict[str, str] = {}
    for e in others:  # one alternative per other diagnosis name: its likeliest variant
        if e.hypothesis.name != first.hypothesis.name:
            also.setdefault(e.hypothesis.name, e.hypothesis.describe(trace))
    if error is not None:
        kind = error.split(":", 1)[0]
        evidence = f"backprop re-run on this case with that one change raises the same {kind}"
    else:
        evidence = (
            "backprop re-run on this case with that one change gives every returned entry "
            "within the rounding allowance of that computation"
        )
    same = [e.hypothesis for e in others if e.hypothesis.name == first.hypothesis.name]
    return Diagnosis(
        first.hypothesis.name,
        first.hypothesis.describe_with(trace, same),
        evidence,
        tuple(also.items()),
        first.starts,
    )


def _overflow(case: Case, dtype: str) -> Diagnosis | None:
    origin = overflow_in(case, dtype)
    if origin is None:
        return None
    if origin.precision == "float32" and dtype == "float64":
        return Diagnosis(
            "float32_inside",
            f"{origin.describe()}: float32 arithmetic inside a float64 interface (in float64 "
            "nothing overflows below 709.78)",
            "the reference's forward pass on this case",
            layer=origin.layer,
        )
    remedy = {
        "sigmoid": "compute sigma(z) as 1 / (1 + e^-z) for z >= 0 and e^z / (1 + e^z) for "
        "z < 0, or from e^-|z|",
        "softplus": "compute softplus(z) as max(z, 0) + log1p(e^-|z|)",
        "cross_entropy": "subtract each row's largest logit before e^h (the max shift)",
        "binary_cross_entropy": "compute sigma(h) from e^-|h|",
    }[origin.name]
    return Diagnosis(
        "overflow",
        f"an overflow: {origin.describe()}; {remedy}",
        "the reference's forward pass on this case",
        layer=origin.layer,
    )


# --- patterns in the array where the error starts -------------------------------------------


def _pattern(trace: Trace, finding: Finding, arrays: ReturnedArrays) -> Diagnosis | None:
    """Exact patterns of got in the array where the error starts: all zero, a constant factor,
    the transpose; each within the allowance, and told apart from the expected array."""
    l, param = finding.layer, finding.param
    if arrays is None or l is None or param is None or len(arrays) != trace.L:
        return None
    k = "Wb".index(param)
    got, correct = arrays[l - 1][k], trace.correct[l][k]
    if got is None or got.shape != correct.value.shape or not np.isfinite(got).all():
        return None
    what = f"dE/d{param}^{l}"
    floor, u = trace.floor, trace.precision.u
    A = correct.error + floor
    expected = correct.value

    def fits(factor: float) -> bool:
        """got = factor x (a correct computation) with one rounding of the product."""
        gap = np.abs(got - factor * expected)
        return bool(np.all(gap <= ALLOWANCES * abs(factor) * A + 2 * u * np.abs(got) + floor))

    def apart(factor: float) -> bool:
        gap = np.abs((factor - 1) * expected)
        return bool((gap > ALLOWANCES * (abs(factor) + 1) * A + 2 * u * np.abs(got)).any())

    evidence = f"every entry of {what} fits, within the rounding allowance"
    if not got.any() and apart(0.0):
        biggest = float(np.abs(expected).max())
        return Diagnosis(
            "zero_gradient",
            f"{what} is exactly 0 everywhere, where entries up to {biggest:.3g} belong: a "
            "gradient never written, or a factor that is 0 everywhere (a gradient cut by a "
            "clip, a mask, a detached tensor?)",
            evidence,
        )
    n = trace.n
    named = [
        (
            -1.0,
            "sign",
            f"the sign is flipped in {what}: dE/dW, not -dE/dW (the minus belongs to the update)",
        )
    ]
    if n > 1:
        named += [
            (
                float(n),
                "missing_mean",
                f"a factor n = {n} in {what}: summed over the batch where E is the batch mean?",
            ),
            (
                1.0 / n,
                "mean_for_sum" if param == "b" else "doubled_mean",
                f"a factor 1/n = 1/{n} in {what}: divided by the batch size twice"
                + (
                    " (the bias gradient is the column SUM of delta, not its mean)"
                    if param == "b"
                    else ""
                ),
            ),
        ]
    if trace.case.arch.loss == "squared_error":
        named += [
            (
                2.0,
                "squared_error_factor",
                f"a factor 2 in {what}: the 1/2 of squared_error dropped?",
            ),
            (
                0.5,
                "squared_error_factor",
                f"a factor 1/2 in {what}: squared_error's 1/2 applied twice?",
            ),
        ]
    for factor, name, text in named:
        if fits(factor) and apart(factor):
            return Diagnosis(name, text, evidence)
    significant = np.abs(expected) > 2 * ALLOWANCES * A
    if significant.any():
        c = float(np.median(got[significant] / expected[significant]))
        if fits(c) and apart(c):
            return Diagnosis(
                "constant_factor",
                f"{what} is {c:.6g} times the expected gradient, entry by entry",
                evidence,
            )
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1:
        transposed = Bounded(expected.T, correct.error.T)
        gap = np.abs(got - transposed.value)
        within = np.all(gap <= ALLOWANCES * (transposed.error + floor))
        told_apart = np.abs(expected.T - expected) > ALLOWANCES * (A + A.T)
        if within and told_apart.any():
            return Diagnosis(
                "transposed_weight_gradient",
                f"{what} is the transpose of the expected gradient: (delta^l)^T h^{{l-1}} "
                "where (h^{l-1})^T delta^l belongs",
                evidence,
            )
    return None


# --- a second call on the same case -------------------------------------------------------


def repeated_call(first: ReturnedArrays, second: ReturnedArrays, allowed) -> Diagnosis:
    """Why a second call on the same case returned `second` where the first gave `first`:
    gradients accumulated (second = 2 first within ALLOWANCES allowances, and first told
    apart from 0), or other state that persists between calls."""
    doubled, apart = True, False
    for (g1W, g1b), (g2W, g2b), (aW, ab) in zip(first, second, allowed, strict=True):
        for g1, g2, a in ((g1W, g2W, aW), (g1b, g2b, ab)):
            if g1 is None or g2 is None or g1.shape != g2.shape:
                doubled = False
                continue
            with np.errstate(invalid="ignore", over="ignore"):
                doubled &= bool(np.all(np.abs(g2 - 2 * g1) <= ALLOWANCES * a))
                apart |= bool((np.abs(g1) > ALLOWANCES * a).any())
    if doubled and apart:
        return Diagnosis(
            "accumulation",
            "gradients accumulated across calls: " + ACCUMULATION.split(": ")[0],
            "the second call on the same case returned twice the first, within the allowance",
        )
    return Diagnosis(
        "persistent_state",
        PERSISTENT_STATE,
        "a second call on the same case returned other gradients",
    )
