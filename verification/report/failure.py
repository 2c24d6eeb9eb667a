"""One failed case, ready to print or to serialise: Failure, and how it is made from a verdict.

Each failure names the case (seed, index, architecture, batch size), what failed (the oracle,
the layer where the error starts, W or b, the worst index, expected against got, the error
against its allowance), a hint where a known bug pattern fits, the smallest failing case found
by shrinking, and a one-line command that reproduces it.
"""

import shlex
from dataclasses import dataclass, field

from verification.cases import Case, CaseOptions
from verification.judge import Verdict


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


def reproduction(spec: str | None, seed: int, index: int, options: CaseOptions, dtype: str) -> str:
    """The one-line command that judges this case alone."""
    words = ["python", "-m", "verification", "--impl", spec or "MODULE:FUNCTION"]
    words += ["--seed", str(seed), "--case", str(index)]
    default = CaseOptions()
    if options.activations != default.activations:
        words += ["--activations", ",".join(options.activations)]
    if options.losses != default.losses:
        words += ["--losses", ",".join(options.losses)]
    for name in ("max_depth", "max_width", "max_batch"):
        if getattr(options, name) != getattr(default, name):
            words += ["--" + name.replace("_", "-"), str(getattr(options, name))]
    if dtype != "float64":
        words += ["--dtype", dtype]
    return shlex.join(words)


@dataclass(frozen=True)
class Failure:
    """One failed case, ready to print or to serialise."""

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
    witnesses: str | None = None
    also: list[str] = field(default_factory=list)
    beyond: str | None = None
    shrunk: dict | None = None
    shrunk_description: str | None = None
    description: str = ""

    def render(self) -> str:
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
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        if self.shrunk_description:
            lines.append(f"  smallest failing case: {self.shrunk_description}")
        lines.append(f"  reproduce: {self.reproduce}")
        return "\n".join(lines)


def failure_from(
    verdict: Verdict, spec: str | None, options: CaseOptions, dtype: str, smallest: Case | None
) -> Failure:
    main, *others = verdict.findings
    case = verdict.case
    worst = next((m for m in main.mismatches if m.layer == main.layer), None)
    return Failure(
        case=_case_fields(case),
        kind=main.kind,
        message=main.message,
        reproduce=reproduction(spec, case.seed, case.index, options, dtype),
        layer=main.layer,
        param=main.param,
        oracle=worst.oracle if worst else None,
        index=list(worst.index) if worst else None,
        expected=worst.expected if worst else None,
        got=worst.got if worst else None,
        abs_diff=worst.abs_diff if worst else None,
        rel_diff=worst.rel_diff if worst else None,
        allowed=worst.allowed if worst else None,
        hint=main.hint,
        witnesses=_witnesses(worst),
        also=[f"{f.kind}: {f.message}" for f in others],
        beyond=_beyond(main.mismatches),
        shrunk=_case_data(smallest) if smallest is not None else None,
        shrunk_description=smallest.describe() if smallest is not None else None,
        description=f"case {case.index} (seed {case.seed}): {case.describe()}",
    )


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
