"""Judging one implementation on one case: the checks of the gate, in the order they run.

    1. the call itself       an exception is a failure carrying its message;
    2. mutation              the arguments are compared with private copies after the call;
    3. structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    4. non-finite values     NaN or Inf in a gradient;
    5. the oracles           torch.autograd and finite differences, entrywise within the
                             rounding-error allowance of verification.tolerance;
    6. determinism           a second call must agree with the first within that allowance.

Data flows one way: case -> implementation -> oracles -> comparison -> findings.
"""

import os
import sys
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.types import Params
from verification.cases import Case
from verification.compare import Mismatch, compare
from verification.finite_differences import Estimate, central_differences
from verification.hints import hint_for
from verification.tolerance import allowance
from verification.torch_mirror import torch_backprop

TORCH = "torch.autograd"
FINITE_DIFFERENCES = "finite differences"
ALLOWANCES = 2
"""Two correct results may differ by A(one) + A(other): each side has its own rounding allowance
(verification.tolerance). Applied against torch.autograd and between two calls."""
FLOAT_DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the implementation on one case.

    kind: "exception", "mutation", "structure", "non-finite", "mismatch" or "nondeterministic".
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


@dataclass(frozen=True)
class Oracles:
    """What the oracles say about one case, computed once and shared by every call judged."""

    torch: Params
    finite_differences: Estimate
    allowed: Params  # the rounding allowance of one correct implementation, per entry

    @classmethod
    def of(cls, case: Case, dtype: str = "float64") -> "Oracles":
        args = (case.arch, case.params, case.x, case.y)
        return cls(
            torch=torch_backprop(*args).grads,
            finite_differences=central_differences(*args),
            allowed=allowance(*args, dtype=FLOAT_DTYPES[dtype]),
        )


@dataclass(frozen=True)
class Verdict:
    """The findings on one case (none: it passed) and what the oracles could not judge."""

    case: Case
    findings: tuple[Finding, ...]
    skipped: int = 0  # finite-difference entries whose perturbation crossed a kink

    @property
    def passed(self) -> bool:
        return not self.findings


def _private_copy(case: Case) -> tuple[Params, np.ndarray, np.ndarray]:
    return [(W.copy(), b.copy()) for W, b in case.params], case.x.copy(), case.y.copy()


def _mutations(case: Case, params: Params, x: np.ndarray, y: np.ndarray) -> Finding | None:
    """Compare what the implementation was given with the case it was copied from."""
    changed = []
    for l, ((W, b), (W0, b0)) in enumerate(zip(params, case.params, strict=True), start=1):
        for symbol, a, a0 in (("W", W, W0), ("b", b, b0)):
            if a.shape != a0.shape or not np.array_equal(a, a0, equal_nan=True):
                changed.append((l, f"layer {l}: {symbol}"))
    for symbol, a, a0 in (("x", x, case.x), ("y", y, case.y)):
        if a.shape != a0.shape or not np.array_equal(a, a0):
            changed.append((None, symbol))
    if not changed:
        return None
    layer = max((l for l, _ in changed if l is not None), default=None)
    return Finding(
        "mutation",
        f"the implementation modified its arguments ({', '.join(w for _, w in changed)}); "
        "it must leave params, x and y as it found them",
        layer=layer,
        hint="an in-place update such as W -= alpha * dW, or a view of an argument returned "
        "and modified later",
    )


def check_structure(
    grads: object, case: Case, dtype: str
) -> tuple[list[tuple[np.ndarray | None, np.ndarray | None]] | None, Finding | None]:
    """Check that `grads` is L pairs shaped like (W, b) with a float dtype.

    Returns the arrays as float64 (None where an entry is malformed) and a finding for the
    highest malformed layer, if any: backprop makes layer L first, so that is where a
    systematic error shows first.
    """
    L = case.arch.L
    if not isinstance(grads, (list, tuple)):
        return None, Finding(
            "structure",
            f"returned a {type(grads).__name__}, but should return a list of {L} (dW, db) pairs",
        )
    if len(grads) != L:
        return None, Finding(
            "structure",
            f"returned {len(grads)} pairs, but should return L = {L}, one (dW, db) per layer",
            hint="an off-by-one in the layer loop?" if abs(len(grads) - L) == 1 else None,
        )
    accepted = (np.dtype(np.float64),) + ((np.dtype(np.float32),) if dtype == "float32" else ())
    arrays: list = []
    problems: list[Finding] = []
    for l, (pair, (W, b)) in enumerate(zip(grads, case.params, strict=True), start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            problems.append(
                Finding(
                    "structure",
                    f"layer {l}: returned {pair!r:.60}, but should be a pair (dW, db)",
                    l,
                )
            )
            arrays.append((None, None))
            continue
        converted = []
        for symbol, g, p in (("W", pair[0], W), ("b", pair[1], b)):
            g = np.asarray(g)
            if g.shape != p.shape:
                problems.append(
                    Finding(
                        "structure",
                        f"layer {l}: dE/d{symbol} has shape {g.shape}, but should be {p.shape}, "
                        f"the shape of {symbol}^{l}",
                        l,
                        symbol,
                        hint=_shape_hint(g.shape, p.shape, case.n),
                    )
                )
                g = None
            elif g.dtype not in accepted:
                names = " or ".join(str(d) for d in accepted)
                problems.append(
                    Finding(
                        "structure",
                        f"layer {l}: dE/d{symbol} has dtype {g.dtype}, but should be {names}",
                        l,
                        symbol,
                    )
                )
                g = None
            else:
                g = g.astype(np.float64)
            converted.append(g)
        arrays.append((converted[0], converted[1]))
    if not problems:
        return arrays, None
    return arrays, max(problems, key=lambda f: f.layer or 0)


def _shape_hint(got: tuple, expected: tuple, n: int) -> str | None:
    if got == expected[::-1]:
        return "the transpose of the expected shape: (h^{l-1})^T delta^l, not delta^T h?"
    if got == (n, *expected[1:]) or got == (n, *expected):
        return "one row per example: the sum over the batch is missing"
    if len(got) < len(expected) or 1 in expected:
        return "a squeeze() or ravel() that drops an axis of length 1?"
    return None


def find_non_finite(grads: list) -> Finding | None:
    """NaN or Inf in a gradient; the highest such layer is named."""
    for l in range(len(grads), 0, -1):
        for symbol, g in zip("Wb", grads[l - 1], strict=True):
            if g is None:
                continue
            bad = ~np.isfinite(g)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                return Finding(
                    "non-finite",
                    f"layer {l}: dE/d{symbol}{list(where)} = {g[where]} "
                    f"({int(bad.sum())} non-finite entries), but every gradient entry of a "
                    "finite case is finite",
                    l,
                    symbol,
                    hint="an overflow: exp of a large logit without the max shift (an unstable "
                    "softmax or sigmoid)?",
                )
    return None


def _against_oracles(grads: Params, case: Case, oracles: Oracles) -> Finding | None:
    allowed = oracles.allowed
    fd = oracles.finite_differences
    mismatches = compare(grads, oracles.torch, _scaled(allowed, ALLOWANCES), TORCH)
    mismatches += compare(
        grads, fd.grads, _added(allowed, fd.error), FINITE_DIFFERENCES, skipped=fd.skipped
    )
    if not mismatches:
        return None
    start = max(m.layer for m in mismatches)
    worst = max(
        (m for m in mismatches if m.layer == start), key=lambda m: (m.oracle == TORCH, m.count)
    )
    at = start - 1
    k = "Wb".index(worst.param)
    return Finding(
        "mismatch",
        worst.describe(),
        start,
        worst.param,
        hint=hint_for(grads[at][k], oracles.torch[at][k], worst.param, case.n),
        mismatches=tuple(mismatches),
    )


def _scaled(allowed: Params, factor: float) -> Params:
    return [(factor * aW, factor * ab) for aW, ab in allowed]


def _added(allowed: Params, error: Params) -> Params:
    return [(aW + eW, ab + eb) for (aW, ab), (eW, eb) in zip(allowed, error, strict=True)]


_LAYER_NAMES = ("l", "layer")  # local names that hold a layer number in 1..L


def _where_raised(exc: BaseException, L: int) -> tuple[str, int | None]:
    """The implementation's innermost frame of the traceback, and the layer it was working on.

    The layer is read from a local variable named l or layer in that frame or its callers (a
    guess, stated as such in the message); frames of numpy, torch and the standard library
    are passed over.
    """
    frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)]
    own = [f for f in frames if not _is_library(f.f_code.co_filename)]
    if not own:
        return "", None
    innermost = own[-1]
    where = f" (in {innermost.f_code.co_name}, {innermost.f_code.co_filename}:{innermost.f_lineno})"
    for frame in reversed(own):
        for name in _LAYER_NAMES:
            value = frame.f_locals.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= L:
                return where, value
    return where, None


_LIBRARY_DIRS = tuple(
    os.path.dirname(path) + os.sep
    for path in (np.__file__, sysconfig.get_paths()["stdlib"] + os.sep + "x")
)


def _is_library(filename: str) -> bool:
    torch_dir = os.path.dirname(sys.modules["torch"].__file__) if "torch" in sys.modules else None
    return filename.startswith(_LIBRARY_DIRS) or bool(torch_dir and filename.startswith(torch_dir))


def _call(impl: Callable, case: Case) -> tuple[object, Finding | None, tuple]:
    params, x, y = _private_copy(case)
    try:
        result = impl(case.arch, params, x, y)
    except Exception as exc:  # the implementation's own failure is a finding, not a crash
        where, layer = _where_raised(exc, case.arch.L)
        at = f" while at layer {layer}" if layer is not None else ""
        message = f"raised {type(exc).__name__}: {exc}{where}{at}"
        return None, Finding("exception", message, layer), (params, x, y)
    return result, None, (params, x, y)


def judge(impl: Callable, case: Case, oracles: Oracles, dtype: str = "float64") -> Verdict:
    """Run every check of the gate on one case and return what it found."""
    skipped = oracles.finite_differences.skipped_count
    result, failed, given = _call(impl, case)
    findings = [f for f in (failed, _mutations(case, *given)) if f is not None]
    if failed is None:
        grads, malformed = check_structure(result, case, dtype)
        if grads is None:
            findings.append(malformed)
        else:
            values = find_non_finite(grads) or _against_oracles(grads, case, oracles)
            # the finding of the highest layer first: that is where the error starts
            found = sorted(
                (f for f in (malformed, values) if f is not None),
                key=lambda f: -(f.layer or 0),
            )
            if not found:
                found = [f for f in [_nondeterminism(impl, case, grads, oracles, dtype)] if f]
            findings += found
    findings.sort(key=lambda f: (f.kind not in ("exception", "mutation"), -(f.layer or 0)))
    return Verdict(case, tuple(findings), skipped)


def _nondeterminism(
    impl: Callable, case: Case, first: Params, oracles: Oracles, dtype: str
) -> Finding | None:
    """Called again on the same case, the results must agree within the rounding allowance."""
    result, failed, _ = _call(impl, case)
    if failed is not None:
        return Finding("nondeterministic", f"the second call on the same case {failed.message}")
    second, bad = check_structure(result, case, dtype)
    if bad is not None:
        return Finding("nondeterministic", f"the second call on the same case: {bad.message}")
    mismatches = compare(second, first, _scaled(oracles.allowed, ALLOWANCES), "the first call")
    if not mismatches:
        return None
    start = max(m.layer for m in mismatches)
    worst = next(m for m in mismatches if m.layer == start)
    k = "Wb".index(worst.param)
    g1, g2 = first[start - 1][k], second[start - 1][k]
    hint = "state that persists between calls (a cache, or a buffer reused without reset)"
    if np.allclose(g2, 2 * g1, rtol=1e-9, atol=0) and np.any(g1):
        hint = "the second call returned twice the first: gradients accumulated across calls?"
    return Finding(
        "nondeterministic",
        f"called twice on the same case, {worst.describe()}",
        start,
        worst.param,
        hint=hint,
        mismatches=tuple(mismatches),
    )
