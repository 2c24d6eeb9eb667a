"""The checks on the call: what the implementation did with its arguments and what it returned.

    the call itself       an exception is a finding carrying its message, where it was raised
                          in the implementation's own code and the layer it was working on; a
                          call that did not finish (a timeout, a crash, the memory limit) is a
                          finding of its own kind (verification.gate.isolation);
    mutation              the arguments are compared bit for bit with the case as drawn;
    structure             L pairs (dW, db) with the shapes of (W, b) and a float dtype;
    non-finite values     NaN or Inf in a gradient of a finite case.

A call is made by a Caller: InProcess here, or verification.gate.isolation.Isolated, which runs
the implementation in a child process. Either returns an Outcome, the same plain data. The
values themselves are judged by verification.judge.values.
"""

import copy
import os
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from reference.types import Params
from verification.cases import Case
from verification.judge import hints
from verification.judge.findings import Finding
from verification.judge.returned import (
    Leaf,
    Returned,
    describe,
    max_entries,
    short_text_of_message,
)

PartialGrads = list[tuple[np.ndarray | None, np.ndarray | None]]
"""Gradients as returned, converted to float64 layer by layer: [(dW^l, db^l) for l = 1..L],
with None in place of an array that is malformed (its own finding says why). The value checks
pass over the None entries, so that a well-formed layer is still judged."""


@dataclass(frozen=True)
class Raised:
    """An exception raised by the implementation: its type and message, where it was raised
    in the implementation's own code (" (in f, file.py:12)", or ""), and the layer it was
    working on, read from a local variable named l or layer (None if there is none)."""

    type_name: str
    message: str
    where: str = ""
    layer: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One call of the implementation on one case, as the gate saw it.

    returned: what came back (None if the call raised or did not finish); raised: the
    exception it raised; failure: a finding for a call that did not finish (timeout, crash,
    memory); mutated: the arguments found changed after the call, e.g. ("layer 2: W", "x").
    """

    returned: Returned | None = None
    raised: Raised | None = None
    failure: Finding | None = None
    mutated: tuple[str, ...] = ()
    seconds: float = 0.0


class Caller(Protocol):
    """Calls an implementation on a case: InProcess, or gate.isolation.Isolated."""

    isolated: bool

    def __call__(self, case: Case) -> Outcome: ...

    def close(self) -> None: ...


def expected_shapes(case: Case) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """[(shape of W^l, shape of b^l) for l = 1..L]: what the gradients must look like."""
    return [(W.shape, b.shape) for W, b in case.params]


def private_copy(case: Case) -> tuple[Params, np.ndarray, np.ndarray]:
    """Copies of params, x and y for the implementation, so that the case stays as drawn."""
    return [(W.copy(), b.copy()) for W, b in case.params], case.x.copy(), case.y.copy()


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b hold the same numbers bit for bit: -0.0 differs from 0.0, and each NaN payload
    from another."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def changed_arguments(case: Case, params: list, x: np.ndarray, y: np.ndarray) -> tuple[str, ...]:
    """The arguments that no longer hold the case's numbers bit for bit, e.g. ("layer 2: W",)."""
    changed = []
    for l, ((W, b), (W0, b0)) in enumerate(zip(params, case.params, strict=True), start=1):
        changed += [
            f"layer {l}: {s}" for s, a, a0 in (("W", W, W0), ("b", b, b0)) if not same_bits(a, a0)
        ]
    changed += [s for s, a, a0 in (("x", x, case.x), ("y", y, case.y)) if not same_bits(a, a0)]
    return tuple(changed)


def mutation_finding(changed: tuple[str, ...]) -> Finding | None:
    """A finding naming the arguments the implementation changed, if any."""
    if not changed:
        return None
    layers = [int(c.split(":")[0].split()[1]) for c in changed if c.startswith("layer ")]
    return Finding(
        "mutation",
        f"the implementation modified its arguments ({', '.join(changed)}); it must leave "
        "arch, params, x and y as it found them",
        layer=max(layers, default=None),
        hint=hints.MUTATION,
    )


def exception_finding(raised: Raised) -> Finding:
    """A finding for an exception the implementation raised."""
    at = f" while at layer {raised.layer}" if raised.layer is not None else ""
    error = f"{raised.type_name}: {raised.message}"  # the diagnosis's re-run must match it
    return Finding("exception", f"raised {error}{raised.where}{at}", raised.layer, error=error)


def check_structure(
    returned: Returned, case: Case, dtype: str
) -> tuple[PartialGrads | None, Finding | None]:
    """Check that what came back is L pairs shaped like (W, b) with a float dtype.

    Returns the arrays as float64 (PartialGrads: None where an entry is malformed; None as a
    whole when the list itself is malformed) and a finding for the highest malformed layer, if
    any: backprop makes layer L first, so that is where a systematic error shows first.
    """
    L = case.arch.L
    if returned.length is None:
        return None, Finding(
            "structure",
            f"returned a {returned.type_name} ({returned.text}), but should return a list of "
            f"{L} (dW, db) pairs",
        )
    if returned.length != L:
        return None, Finding(
            "structure",
            f"returned {returned.length} pairs, but should return L = {L}, one (dW, db) per layer",
            hint=hints.OFF_BY_ONE_LAYER if abs(returned.length - L) == 1 else None,
        )
    accepted = ("float64",) + (("float32",) if dtype == "float32" else ())
    arrays: PartialGrads = []
    problems: list[Finding] = []
    for l, (item, (W, b)) in enumerate(zip(returned.items, case.params, strict=True), start=1):
        if isinstance(item, str):
            problems.append(
                Finding(
                    "structure", f"layer {l}: returned {item}, but should be a pair (dW, db)", l
                )
            )
            arrays.append((None, None))
            continue
        converted: list[np.ndarray | None] = []
        for symbol, got, p in (("W", item[0], W), ("b", item[1], b)):
            problem = _leaf_problem(got, l, symbol, p.shape, accepted, case.n)
            if problem is not None:
                problems.append(problem)
                converted.append(None)
            else:
                converted.append(got.array.astype(np.float64))  # type: ignore[union-attr]
        arrays.append((converted[0], converted[1]))
    if not problems:
        return arrays, None
    return arrays, max(problems, key=lambda f: f.layer or 0)


def _leaf_problem(
    got: Leaf, l: int, symbol: str, shape: tuple, accepted: tuple[str, ...], n: int
) -> Finding | None:
    """Why one returned gradient cannot be judged, or None if it can."""
    if got.problem is not None:
        return Finding(
            "structure",
            f"layer {l}: dE/d{symbol} is {got.problem}",
            l,
            symbol,
            hint=hints.CONVERTIBLE,
        )
    if got.shape != shape:
        return Finding(
            "structure",
            f"layer {l}: dE/d{symbol} has shape {got.shape}, but should be {shape}, the shape "
            f"of {symbol}^{l}",
            l,
            symbol,
            hint=hints.shape_hint(got.shape, shape, n),
        )
    if got.dtype not in accepted:
        return Finding(
            "structure",
            f"layer {l}: dE/d{symbol} has dtype {got.dtype}, but should be {' or '.join(accepted)}",
            l,
            symbol,
            hint=hints.FLOAT32_RESULT if got.dtype == "float32" else None,
        )
    return None


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
                    hint=hints.NON_FINITE,
                )
    return None


_LAYER_NAMES = ("l", "layer")  # local names that hold a layer number in 1..L


def describe_exception(exc: BaseException, L: int) -> Raised:
    """The exception as a Raised: the implementation's innermost frame of the traceback, and
    the layer it was working on.

    The layer is read from a local variable named l or layer in that frame or its callers (a
    guess, stated as such in the message); frames of numpy, torch, the standard library and
    the gate itself are passed over.
    """
    frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)]
    own = [f for f in frames if not _is_library(f.f_code.co_filename)]
    where, layer = "", None
    if own:
        innermost = own[-1]
        code = innermost.f_code
        where = f" (in {code.co_name}, {code.co_filename}:{innermost.f_lineno})"
        layer = _layer_of(own, L)
    return Raised(type(exc).__name__, short_text_of_message(exc), where, layer)


def _layer_of(frames: list, L: int) -> int | None:
    for frame in reversed(frames):
        for name in _LAYER_NAMES:
            try:
                value = frame.f_locals.get(name)
            except Exception:  # a frame's locals are the implementation's objects
                continue
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= L:
                return value
    return None


_LIBRARY_DIRS = tuple(
    folder + os.sep
    for folder in (
        os.path.dirname(np.__file__),
        sysconfig.get_paths()["stdlib"],
        os.path.dirname(__file__),  # verification/judge, which calls in-process
        os.path.join(os.path.dirname(os.path.dirname(__file__)), "gate"),  # and the child
    )
)


def _is_library(filename: str) -> bool:
    torch = sys.modules.get("torch")
    torch_dir = os.path.dirname(torch.__file__) if torch is not None and torch.__file__ else None
    return filename.startswith(_LIBRARY_DIRS) or bool(torch_dir and filename.startswith(torch_dir))


class InProcess:
    """Calls the implementation inside the gate's own process (--in-process, or a callable
    that cannot be imported by name in a child process).

    It is not isolated: the implementation can change anything of the gate's. What can be
    restored cheaply is: NumPy's floating-point error handling and torch's grad mode are put
    back after every call.
    """

    isolated = False

    def __init__(self, impl: Callable) -> None:
        self.impl = impl

    def __call__(self, case: Case) -> Outcome:
        params, x, y = private_copy(case)
        arch = copy.deepcopy(case.arch)
        start = time.perf_counter()
        with _numeric_state_kept():
            try:
                result = self.impl(arch, params, x, y)
            except (Exception, SystemExit, GeneratorExit) as exc:
                seconds = time.perf_counter() - start
                changed = changed_arguments(case, params, x, y) + _arch_changed(case, arch)
                return Outcome(
                    raised=describe_exception(exc, case.L), mutated=changed, seconds=seconds
                )
            seconds = time.perf_counter() - start
            returned = describe(result, expected_shapes(case), max_entries(case.n, case.arch.sizes))
        changed = changed_arguments(case, params, x, y) + _arch_changed(case, arch)
        return Outcome(returned=returned, mutated=changed, seconds=seconds)

    def close(self) -> None:
        pass


def _arch_changed(case: Case, arch: object) -> tuple[str, ...]:
    return () if arch == case.arch else ("arch",)


@contextmanager
def _numeric_state_kept() -> Iterator[None]:
    """Restores NumPy's error handling and torch's grad mode and default dtype on exit."""
    errors = np.geterr()
    torch = sys.modules.get("torch")
    grad = torch.is_grad_enabled() if torch is not None else None
    default_dtype = torch.get_default_dtype() if torch is not None else None
    try:
        yield
    finally:
        np.seterr(**errors)
        if torch is not None:
            torch.set_grad_enabled(grad)
            torch.set_default_dtype(default_dtype)


def call_findings(outcome: Outcome) -> list[Finding]:
    """The findings about the call itself: it did not finish, it raised, it mutated."""
    findings = []
    if outcome.failure is not None:
        findings.append(outcome.failure)
    if outcome.raised is not None:
        findings.append(exception_finding(outcome.raised))
    mutation = mutation_finding(outcome.mutated)
    if mutation is not None:
        findings.append(mutation)
    return findings
