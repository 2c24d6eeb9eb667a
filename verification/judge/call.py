"""The checks on the call: what the implementation did with its arguments and what it returned.

    the call itself       an exception is a finding carrying its message, where it was raised
                          in the implementation's own code and the layer it was working on;
    mutation              the arguments are compared with private copies after the call;
    structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    non-finite values     NaN or Inf in a gradient of a finite case.

The values themselves are judged by verification.judge.values.
"""

import os
import sys
import sysconfig
import traceback
from collections.abc import Callable

import numpy as np

from reference.types import Params
from verification.cases import Case
from verification.judge import diagnoses
from verification.judge.findings import Finding

PartialGrads = list[tuple[np.ndarray | None, np.ndarray | None]]
"""Gradients as returned, converted to float64 layer by layer: [(dW^l, db^l) for l = 1..L],
with None in place of an array that is malformed (its own finding says why). The value checks
pass over the None entries, so that a well-formed layer is still judged."""


def private_copy(case: Case) -> tuple[Params, np.ndarray, np.ndarray]:
    """Copies of params, x and y for the implementation, so that the case stays as drawn."""
    return [(W.copy(), b.copy()) for W, b in case.params], case.x.copy(), case.y.copy()


def mutations(case: Case, params: Params, x: np.ndarray, y: np.ndarray) -> Finding | None:
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
        hint=diagnoses.MUTATION,
    )


def check_structure(
    grads: object, case: Case, dtype: str
) -> tuple[PartialGrads | None, Finding | None]:
    """Check that `grads` is L pairs shaped like (W, b) with a float dtype.

    Returns the arrays as float64 (PartialGrads: None where an entry is malformed; None as a
    whole when the list itself is malformed) and a finding for the highest malformed layer, if
    any: backprop makes layer L first, so that is where a systematic error shows first.
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
            hint=diagnoses.OFF_BY_ONE_LAYER if abs(len(grads) - L) == 1 else None,
        )
    accepted = (np.dtype(np.float64),) + ((np.dtype(np.float32),) if dtype == "float32" else ())
    arrays: PartialGrads = []
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
        converted: list[np.ndarray | None] = []
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
                        hint=diagnoses.shape_hint(g.shape, p.shape, case.n),
                    )
                )
                converted.append(None)
            elif g.dtype not in accepted:
                names = " or ".join(str(d) for d in accepted)
                problems.append(
                    Finding(
                        "structure",
                        f"layer {l}: dE/d{symbol} has dtype {g.dtype}, but should be {names}",
                        l,
                        symbol,
                        hint=diagnoses.FLOAT32_RESULT if g.dtype == np.float32 else None,
                    )
                )
                converted.append(None)
            else:
                converted.append(g.astype(np.float64))
        arrays.append((converted[0], converted[1]))
    if not problems:
        return arrays, None
    return arrays, max(problems, key=lambda f: f.layer or 0)


def find_non_finite(grads: PartialGrads) -> Finding | None:
    """NaN or Inf in a gradient; the highest such layer is named (judge.conclude then names
    the layer where an overflow starts, if the case reaches one)."""
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
                    hint=diagnoses.NON_FINITE,
                )
    return None


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


def call(impl: Callable, case: Case) -> tuple[object, Finding | None, tuple]:
    """impl(arch, params, x, y) on private copies of the case: (what it returned, a finding if
    it raised, the copies it was given)."""
    params, x, y = private_copy(case)
    try:
        result = impl(case.arch, params, x, y)
    except Exception as exc:  # the implementation's own failure is a finding, not a crash
        where, layer = _where_raised(exc, case.arch.L)
        at = f" while at layer {layer}" if layer is not None else ""
        error = f"{type(exc).__name__}: {exc}"  # for the diagnosis: the re-run must match it
        message = f"raised {error}{where}{at}"
        return None, Finding("exception", message, layer, error=error), (params, x, y)
    return result, None, (params, x, y)
