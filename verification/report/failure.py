"""One failed case, ready to print or to serialise: Failure, and how it is made from a verdict.

Each failure names the case (seed, index, architecture, batch size, and how large its
pre-activations and logits are), what failed (the oracle, the layer where the error starts, W
or b, the worst index, expected against got, the error against its allowance), the diagnosis
(what the person got wrong) or else a hint, the smallest failing case found by shrinking with
its numbers, and a way to reproduce it: a command when the implementation can be named, else a
Python call of verification.check on that one case.
"""

import math
import shlex
from dataclasses import asdict, dataclass, field

import numpy as np

import reference
from verification.cases import Case, CaseOptions
from verification.judge import Diagnosis, Verdict
from verification.judge.magnitudes import magnitudes
from verification.judge.signature import readability

SHOWN_NUMBERS = 40
"""An array of at most this many numbers is shown whole (W^l, b^l, x, y, z^l of the smallest
failing case); a larger one by its shape and largest magnitude."""
SHOWN_ENTRIES = 12
"""Disagreeing entries of the smallest failing case listed in the terminal (the JSON report
holds them all)."""


def printable(text: str) -> str:
    """`text` as one line of printable characters: a newline, an escape code or any other
    character that a terminal would act on is written as its Python escape (\\n, \\x1b), so
    that nothing an implementation says or names can forge a line of the report."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _case_fields(case: Case) -> dict:
    return {
        "seed": case.seed,
        "index": case.index,
        "sizes": list(case.arch.sizes),
        "activations": list(case.arch.activations),
        "loss": case.arch.loss,
        "n": case.n,
        "regime": case.regime,
    }


def _case_data(case: Case) -> dict:
    """Everything needed to rebuild a case exactly (floats are written with repr precision)."""
    return {
        **_case_fields(case),
        "params": [{"W": W.tolist(), "b": b.tolist()} for W, b in case.params],
        "x": case.x.tolist(),
        "y": case.y.tolist(),
    }


# --- reproduction -----------------------------------------------------------------------------


def impl_label(impl: object) -> tuple[str, str | None]:
    """(the Python name to call `impl` by in a reproduction, what it is when that name is only
    a stand-in): ("my_gradients", None), or ("impl", "the lambda at file.py:12")."""
    if isinstance(impl, str):
        return repr(impl), None
    name = getattr(impl, "__qualname__", None)
    if isinstance(name, str) and name.isidentifier():
        return name, None
    code = getattr(impl, "__code__", None)
    if name == "<lambda>" and code is not None:
        return "impl", f"the lambda at {code.co_filename}:{code.co_firstlineno}"
    func = getattr(impl, "func", None)
    if func is not None and hasattr(impl, "args"):  # functools.partial
        inner = getattr(func, "__qualname__", type(func).__name__)
        return "impl", f"the functools.partial of {inner}"
    if hasattr(impl, "__self__") and isinstance(name, str):
        return "impl", f"the bound method {name} of a {type(impl.__self__).__name__}"
    if isinstance(name, str):
        return "impl", f"the function {name}"
    return "impl", f"the {type(impl).__name__} object"


RunOptions = tuple[tuple[str, object], ...]
"""Options of a run beyond its cases' that a reproduction must repeat, as (name, value) in the
names of verification.check: ("timeout", 0.5), ("memory_limit", 2**30), ("in_process", True)."""


def _option_words(
    options: CaseOptions, dtype: str, run: RunOptions = ()
) -> list[tuple[str, object]]:
    """The options that differ from the defaults, as (name, value)."""
    default = CaseOptions()
    chosen: list[tuple[str, object]] = []
    for name in ("activations", "losses"):
        if getattr(options, name) != getattr(default, name):
            chosen.append((name, list(getattr(options, name))))
    if options.output_activations is not None:
        chosen.append(("output_activations", list(options.output_activations)))
    for name in ("max_depth", "max_width", "max_batch"):
        if getattr(options, name) != getattr(default, name):
            chosen.append((name, getattr(options, name)))
    if dtype != "float64":
        chosen.append(("dtype", dtype))
    return chosen + list(run)


def reproduction(
    spec: str | None, seed: int, index: int, options: CaseOptions, dtype: str, run: RunOptions = ()
) -> str:
    """The one-line command that judges this case alone (with --impl MODULE:FUNCTION as a
    stand-in when the implementation cannot be named; python_reproduction then says more)."""
    words = ["python", "-m", "verification", "--impl", spec or "MODULE:FUNCTION"]
    words += ["--seed", str(seed), "--case", str(index)]
    for name, value in _option_words(options, dtype, run):
        words.append("--" + name.replace("_", "-"))
        if isinstance(value, list):
            words.append(",".join(value))
        elif name == "memory_limit" and isinstance(value, int) and value % 2**20 == 0:
            words.append(f"{value >> 20}M")
        elif value is not True:  # a flag (--in-process) has no value
            words.append(str(value))
    return shlex.join(words)


def python_reproduction(
    name: str,
    seed: int,
    index: int,
    options: CaseOptions,
    dtype: str,
    call: str,
    run: RunOptions = (),
) -> str:
    """`call`(name, seed=..., case=..., options...): the Python line that judges this case
    alone, e.g. verification.check(my_gradients, seed=0, case=3, activations=["tanh"])."""
    words = [name, f"seed={seed}", f"case={index}"]
    words += [f"{option}={value!r}" for option, value in _option_words(options, dtype, run)]
    return f"{call}({', '.join(words)})"


# --- numbers ---------------------------------------------------------------------------------


def _shown(a: np.ndarray) -> str:
    """An array whole, with 4 significant digits, if it holds at most SHOWN_NUMBERS numbers;
    else its shape and largest magnitude."""
    a = np.asarray(a)
    if a.size > SHOWN_NUMBERS:
        return f"{a.shape}, largest |entry| {np.abs(a).max():.3g}"
    formatter = None if a.dtype.kind in "iu" else {"float_kind": lambda v: f"{v:.4g}"}
    text = np.array2string(a, separator=", ", formatter=formatter, max_line_width=10**6)
    return " ".join(line.strip() for line in text.splitlines())  # one line, rows and all


def _digits(got: float, expected: float) -> int:
    """Significant digits enough to see got and expected differ (4 to 17)."""
    if not (math.isfinite(got) and math.isfinite(expected)) or got == expected:
        return 4
    scale = max(abs(got), abs(expected))
    return min(17, max(4, math.ceil(-math.log10(abs(got - expected) / scale)) + 2))


@dataclass(frozen=True)
class Disagreement:
    """One entry of the smallest failing case where the implementation and torch.autograd
    disagree beyond the allowance."""

    layer: int
    param: str
    index: list[int]
    got: float
    expected: float
    allowed: float

    def describe(self) -> str:
        d = _digits(self.got, self.expected)
        return (
            f"dE/d{self.param}^{self.layer}{self.index} = {self.got:.{d}g}, expected "
            f"{self.expected:.{d}g} (|diff| {abs(self.got - self.expected):.3g}, allowed "
            f"{self.allowed:.3g})"
        )


def _disagreements(verdict: Verdict, dtype: str) -> tuple[list[Disagreement], list[str]]:
    """The entries beyond their allowance A of the exact gradient (correctly rounded; the
    exact witness, verification.oracles.exact), layer L first, and a line per array that came
    back in the wrong shape."""
    from verification.judge.compare import beyond
    from verification.oracles.exact import GRADIENTS, exact_backprop
    from verification.oracles.tolerance import allowance

    if verdict.grads is None:
        return [], []
    case = verdict.case
    args = (case.arch, case.params, case.x, case.y)
    exact = exact_backprop(*args, need=GRADIENTS).grads
    allowances = allowance(*args, dtype=dtype)
    found, shapes = [], []
    for l in range(min(len(verdict.grads), verdict.case.L), 0, -1):
        for k, param in enumerate("Wb"):
            got = verdict.grads[l - 1][k]
            expected, allowed = exact[l - 1][k].value, allowances[l - 1][k]
            if got is None or got.shape != expected.shape:
                what = "unreadable" if got is None else f"{got.shape}: {_shown(got)}"
                shapes.append(
                    f"dE/d{param}^{l} came back {what}; expected {expected.shape}: "
                    f"{_shown(expected)}"
                )
                continue
            for index in np.argwhere(beyond(got, expected, allowed)):
                i = tuple(int(j) for j in index)
                found.append(
                    Disagreement(
                        l, param, list(i), float(got[i]), float(expected[i]), float(allowed[i])
                    )
                )
    return found, shapes


def smallest_numbers(verdict: Verdict, dtype: str) -> dict:
    """The smallest failing case with its numbers: the case data (every value at full
    precision), z^l of each layer, what failed there, and the entries that disagree."""
    case, main = verdict.case, verdict.findings[0]
    with np.errstate(all="ignore"):
        z = reference.forward(case.arch, case.params, case.x).z
    found, shapes = _disagreements(verdict, dtype)
    return {
        **_case_data(case),
        "z": [z[l].tolist() for l in range(1, case.L + 1)],
        "kind": main.kind,
        "message": main.message,
        "disagreements": [vars(d) for d in found],
        "shapes": shapes,
    }


def _numbers_lines(data: dict) -> list[str]:
    """The smallest failing case's numbers, for the terminal."""
    lines = []
    for l, (layer, z) in enumerate(zip(data["params"], data["z"], strict=True), start=1):
        lines.append(
            f"layer {l}: W^{l} = {_shown(layer['W'])}  b^{l} = {_shown(layer['b'])}  "
            f"z^{l} = {_shown(z)}"
        )
    lines.append(f"x = {_shown(data['x'])}  y = {_shown(data['y'])}")
    if data["kind"] not in ("mismatch", "non-finite"):
        lines.append(f"{data['kind']}: {data['message']}")
    lines += data["shapes"]
    found = data["disagreements"]
    if found:
        lines.append("got, where it is beyond its allowance of the exact value:")
        lines += ["  " + Disagreement(**d).describe() for d in found[:SHOWN_ENTRIES]]
        if len(found) > SHOWN_ENTRIES:
            lines.append(f"  ... and {len(found) - SHOWN_ENTRIES} more (the JSON report has all)")
    return lines


# --- the failure -----------------------------------------------------------------------------


def _diagnosis_data(diagnosis: Diagnosis | None) -> dict | None:
    if diagnosis is None:
        return None
    return {
        "name": diagnosis.name,
        "text": diagnosis.text,
        "evidence": diagnosis.evidence,
        "also": [{"name": name, "text": text} for name, text in diagnosis.also],
    }


@dataclass(frozen=True)
class Failure:
    """One failed case, ready to print or to serialise.

    reproduce: the command that judges the case alone, or where the implementation cannot be
    named (named is False), the Python line of verification.check that does; python: that
    line in any case, `impl_is` saying what its first argument stands for, if it is a stand-in.
    diagnosis: {"name", "text", "evidence", "also"} or None; hint: its text, or else a guess.
    """

    case: dict
    kind: str
    message: str
    reproduce: str
    layer: int | None = None
    param: str | None = None
    oracle: str | None = None
    index: list[int] | None = None
    expected: float | None = None
    got: float | None = None
    abs_diff: float | None = None
    rel_diff: float | None = None
    allowed: float | None = None
    hint: str | None = None
    diagnosis: dict | None = None
    witnesses: str | None = None
    also: list[str] = field(default_factory=list)
    beyond: str | None = None
    magnitudes: str | None = None
    shrunk: dict | None = None
    shrunk_description: str | None = None
    named: bool = True
    python: str | None = None
    impl_is: str | None = None
    readability: tuple = ()  # judge.signature.readability: sort failures by it, most readable first
    description: str = ""

    def to_dict(self) -> dict:
        """The failure as JSON-ready data (non-finite numbers still as floats: see
        verification.report.files.jsonable)."""
        return {k: v for k, v in asdict(self).items() if k != "description"}

    @classmethod
    def not_kept(cls, seed: int, index: int) -> "Failure":
        """A stand-in for a failed case whose details the run did not keep."""
        return cls(
            case={"seed": seed, "index": index},
            kind="not kept",
            message="failed; its details were not kept (see --jsonl for every failure)",
            reproduce="",
            description=f"case {index} (seed {seed})",
        )

    def render(self, call: str | None = None) -> str:
        """The failure block of the terminal summary. Every line of it is escaped to printable
        characters (printable) as a whole, so that no text that may come from the
        implementation (its messages, type names, reprs, output and file names, wherever they
        are quoted) can start a line of its own or send a terminal an escape code. `call` (e.g.
        "backprop_gate.check") names the Python function a reproduction calls, for a report
        read inside Python."""
        lines = [f"FAILED {self.description}"]
        where = f" at layer {self.layer}" if self.layer is not None else ""
        what = f", {self.param}" if self.param else ""
        against = f", against {self.oracle}" if self.oracle else ""
        lines.append(f"  {self.kind}{where}{what}{against}")
        lines.append(f"  {self.message}")
        if self.witnesses:
            lines.append(f"  witnesses: {self.witnesses}")
        if self.beyond:
            lines.append(f"  beyond allowance: {self.beyond}")
        lines += [f"  also: {text}" for text in self.also]
        if self.magnitudes:
            lines.append(f"  magnitudes: {self.magnitudes}")
        if self.diagnosis:
            lines.append(f"  diagnosis: {self.diagnosis['text']}")
            lines += [f"    or, just as well: {alt['text']}" for alt in self.diagnosis["also"]]
        elif self.hint:
            lines.append(f"  hint: {self.hint}")
        if self.shrunk is not None:
            lines.append(f"  smallest failing case: {self.shrunk_description}")
            lines += [f"    {line}" for line in _numbers_lines(self.shrunk)]
        if self.reproduce:
            lines += self._reproduce_lines(call)
        return "\n".join(printable(line) for line in lines)

    def _reproduce_lines(self, call: str | None) -> list[str]:
        stand_in = f"  ({self.impl_is} stands for impl)" if self.impl_is else ""
        if call is not None and self.python is not None:
            python = self.python.replace("verification.check", call, 1)
            lines = [f"  reproduce: {python}{stand_in}"]
            if self.named:
                lines.append(f"    or from a shell: {self.reproduce}")
            return lines
        if self.named or self.python is None:
            return [f"  reproduce: {self.reproduce}"]
        return [f"  reproduce in Python: {self.python}{stand_in}"]


def failure_from(
    verdict: Verdict,
    spec: str | None,
    options: CaseOptions,
    dtype: str,
    smallest: Verdict | None,
    impl: object = None,
    run: RunOptions = (),
) -> Failure:
    """The Failure of a failed verdict; `smallest` is the smallest failing case's verdict (the
    case itself if shrinking found none smaller), or None if it was not shrunk; `impl` the
    implementation judged (for the Python reproduction), None for result files; `run` the
    run's options that its reproductions repeat (RunOptions)."""
    main, *others = verdict.findings
    case = verdict.case
    worst = next((m for m in main.mismatches if m.layer == main.layer), None)
    python, impl_is = None, None
    if impl is not None or spec is not None:
        name, impl_is = impl_label(impl) if impl is not None else (repr(spec), None)
        if spec is not None and (impl_is is not None or not spec.endswith(f":{name}")):
            name, impl_is = repr(spec), None  # given as a spec, or named by one: call it so
        python = python_reproduction(
            name, case.seed, case.index, options, dtype, "verification.check", run
        )
    return Failure(
        case=_case_fields(case),
        kind=main.kind,
        message=main.message,
        reproduce=(
            reproduction(spec, case.seed, case.index, options, dtype, run)
            if spec is not None or python is None
            else python
        ),
        layer=main.layer,
        param=main.param,
        oracle=worst.oracle if worst else None,
        index=list(worst.index) if worst else None,
        expected=worst.expected if worst else None,
        got=worst.got if worst else None,
        abs_diff=worst.abs_diff if worst else None,
        rel_diff=worst.rel_diff if worst else None,
        allowed=worst.allowed if worst else None,
        hint=main.diagnosis.text if main.diagnosis else main.hint,
        diagnosis=_diagnosis_data(main.diagnosis),
        witnesses=_witnesses(worst),
        also=[f"{f.kind}: {f.message}" for f in others],
        beyond=_beyond(main.mismatches),
        magnitudes=magnitudes(case).describe(case.arch),
        shrunk=smallest_numbers(smallest, dtype) if smallest is not None else None,
        shrunk_description=_shrunk_description(smallest, case) if smallest else None,
        named=spec is not None,
        python=python,
        impl_is=impl_is,
        readability=readability(verdict),
        description=f"case {case.index} (seed {case.seed}): {case.describe()}",
    )


def _shrunk_description(smallest: Verdict, case: Case) -> str:
    if smallest.case is case:
        return f"{case.describe()} (this case: no smaller one fails the same way)"
    return smallest.case.describe()


def _witnesses(worst) -> str | None:
    """Which witnesses judged the worst entry, in one line: "dE/dW^2[0, 1]: torch.autograd
    beyond allowance; finite differences did not judge it (kink)"."""
    if worst is None or not worst.witnesses:
        return None
    return f"dE/d{worst.param}^{worst.layer}{list(worst.index)}: " + "; ".join(worst.witnesses)


def _beyond(mismatches) -> str | None:
    """Every array beyond its allowance, in one line: "layer 2: W 12/32, b 3/8; layer 1: ..."."""
    if not mismatches:
        return None
    counts: dict[int, dict[str, tuple[int, int]]] = {}
    for m in mismatches:
        worst = counts.setdefault(m.layer, {}).get(m.param, (0, m.total))
        counts[m.layer][m.param] = (max(worst[0], m.count), m.total)
    layers = "; ".join(
        f"layer {l}: " + ", ".join(f"{p} {c}/{t}" for p, (c, t) in sorted(counts[l].items()))
        for l in sorted(counts, reverse=True)
    )
    oracles = " and ".join(sorted({m.oracle for m in mismatches}))
    return f"{layers} (according to {oracles})"
