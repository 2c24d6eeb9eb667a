"""The gate's report: a terminal summary, JSON and JUnit XML.

Each failure names the case (seed, index, architecture, batch size), what failed (the oracle,
the layer where the error starts, W or b, the worst index, expected against got, the error
against its allowance), a hint where a known bug pattern fits, the smallest failing case found
by shrinking, and a one-line command that reproduces it.
"""

import json
import shlex
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from verification.cases import Case, CaseOptions
from verification.judge import Verdict

PRINTED_FAILURES = 5  # failure blocks in the terminal summary; --json has them all


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
        also=[f"{f.kind}: {f.message}" for f in others],
        beyond=_beyond(main.mismatches),
        shrunk=_case_data(smallest) if smallest is not None else None,
        shrunk_description=smallest.describe() if smallest is not None else None,
        description=f"case {case.index} (seed {case.seed}): {case.describe()}",
    )


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


@dataclass(frozen=True)
class Report:
    """What the gate found: `ok` is True when every case passed."""

    impl: str
    seed: int
    cases: int
    passed: int
    failures: list[Failure]
    skipped_entries: int
    seconds: float
    by_activation: dict[str, list[int]]  # name -> [passed, judged]
    by_loss: dict[str, list[int]]
    by_depth: dict[str, list[int]]
    passed_cases: list[int]

    @property
    def ok(self) -> bool:
        return not self.failures

    @classmethod
    def gather(
        cls,
        impl: str,
        seed: int,
        verdicts: list[Verdict],
        failures: list[Failure],
        seconds: float,
    ) -> "Report":
        tallies: dict[str, dict[str, Counter]] = {"act": {}, "loss": {}, "depth": {}}
        for v in verdicts:
            keys = {
                "act": set(v.case.arch.activations),
                "loss": {v.case.arch.loss},
                "depth": {str(v.case.arch.L)},
            }
            for kind, names in keys.items():
                for name in names:
                    tally = tallies[kind].setdefault(name, Counter())
                    tally["judged"] += 1
                    tally["passed"] += v.passed

        def table(kind: str) -> dict[str, list[int]]:
            return {k: [c["passed"], c["judged"]] for k, c in sorted(tallies[kind].items())}

        return cls(
            impl=impl,
            seed=seed,
            cases=len(verdicts),
            passed=sum(v.passed for v in verdicts),
            failures=failures,
            skipped_entries=sum(v.skipped for v in verdicts),
            seconds=seconds,
            by_activation=table("act"),
            by_loss=table("loss"),
            by_depth=table("depth"),
            passed_cases=[v.case.index for v in verdicts if v.passed],
        )

    def summary(self) -> str:
        rate = self.cases / self.seconds if self.seconds > 0 else float("inf")
        verdict = "PASSED" if self.ok else "FAILED"
        lines = [
            f"backprop-gate: {self.impl}, {self.cases} cases from seed {self.seed} in "
            f"{self.seconds:.1f} s ({rate:.0f} cases/s)",
            f"{verdict}: {self.passed} of {self.cases} cases passed; {self.skipped_entries} "
            "finite-difference entries skipped at kinks (torch.autograd still judged them)",
        ]
        for title, counts in (
            ("by activation", self.by_activation),
            ("by loss", self.by_loss),
            ("by depth", self.by_depth),
        ):
            cells = "  ".join(f"{k} {p}/{j}" for k, (p, j) in counts.items())
            lines.append(f"  {title:<14}{cells}")
        for failure in self.failures[:PRINTED_FAILURES]:
            lines += ["", failure.render()]
        rest = self.failures[PRINTED_FAILURES:]
        if rest:
            indices = ", ".join(str(f.case["index"]) for f in rest[:20])
            more = ", ..." if len(rest) > 20 else ""
            lines.append(
                f"\n{len(rest)} more failed cases: {indices}{more} (--json PATH writes them all)"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["failures"] = [
            {k: v for k, v in f.items() if k != "description"} for f in data["failures"]
        ]
        return data

    def finish(self, prog: str, *, json_path: str | None, junit_path: str | None) -> int:
        """The end of a command that judges: print the summary, write the --json and
        --junit-xml files asked for, and return the exit status (0 passed, 1 failed, 2 a file
        could not be written)."""
        try:
            print(self.summary())
        except BrokenPipeError:  # the reader went away (e.g. `| head`): the verdict stands
            sys.stderr.close()
        try:
            if json_path:
                self.write_json(json_path)
            if junit_path:
                self.write_junit(junit_path)
        except OSError as exc:
            print(f"{prog}: error: cannot write the report: {exc}", file=sys.stderr)
            return 2
        return 0 if self.ok else 1

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n")

    def write_junit(self, path: str | Path) -> None:
        """JUnit XML: one testcase per case judged."""
        suite = ElementTree.Element(
            "testsuite",
            name="backprop-gate",
            tests=str(self.cases),
            failures=str(len(self.failures)),
            errors="0",
            time=f"{self.seconds:.3f}",
        )
        for failure in self.failures:
            test = ElementTree.SubElement(
                suite, "testcase", classname="backprop-gate", name=failure.description
            )
            node = ElementTree.SubElement(
                test, "failure", message=failure.message, type=failure.kind
            )
            node.text = failure.render()
        for index in self.passed_cases:  # a testcase without <failure> is a pass
            ElementTree.SubElement(
                suite,
                "testcase",
                classname="backprop-gate",
                name=f"case {index} (seed {self.seed})",
            )
        ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
