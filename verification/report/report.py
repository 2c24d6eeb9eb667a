"""The gate\'s report: what a run found, as a terminal summary, JSON and JUnit XML.

A Report gathers the verdicts of a run: the counts by activation, loss and depth, the failures
(verification.report.failure) and the time taken. `summary()` is the terminal text: a header,
then `body_lines()`, which other reports (verification.vectors) reuse under a header of their
own. verification.report.files writes the JSON and JUnit XML files and ends a command.
"""

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from verification.judge import Verdict
from verification.report import files
from verification.report.failure import Failure

PRINTED_FAILURES = 5  # failure blocks in the terminal summary; --json has them all


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
    untrusted_entries: int = 0  # finite-difference entries no step could be trusted for

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
            untrusted_entries=sum(v.untrusted for v in verdicts),
        )

    def header_lines(self) -> list[str]:
        """The first lines of the summary: who was judged, how fast, and the verdict."""
        rate = self.cases / self.seconds if self.seconds > 0 else float("inf")
        verdict = "PASSED" if self.ok else "FAILED"
        return [
            f"backprop-gate: {self.impl}, {self.cases} cases from seed {self.seed} in "
            f"{self.seconds:.1f} s ({rate:.0f} cases/s)",
            f"{verdict}: {self.passed} of {self.cases} cases passed; {self.skipped_entries} "
            f"finite-difference entries skipped at kinks and {self.untrusted_entries} without "
            "a trustworthy step (torch.autograd still judged them)",
        ]

    def body_lines(self) -> list[str]:
        """The counts by activation, loss and depth, then the first failures in full."""
        lines = []
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
        return lines

    def summary(self) -> str:
        """The terminal text: header_lines, then body_lines."""
        return "\n".join(self.header_lines() + self.body_lines())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["failures"] = [
            {k: v for k, v in f.items() if k != "description"} for f in data["failures"]
        ]
        return data

    def junit_cases(self) -> list[tuple[str, Failure | None]]:
        """One (name, failure or None) per case judged, for JUnit XML: failures first."""
        named: list[tuple[str, Failure | None]] = [(f.description, f) for f in self.failures]
        return named + [(f"case {index} (seed {self.seed})", None) for index in self.passed_cases]

    def finish(self, prog: str, *, json_path: str | None, junit_path: str | None) -> int:
        """Print the summary, write the files asked for, return the exit status
        (verification.report.files.finish)."""
        return files.finish(self, prog, json_path=json_path, junit_path=junit_path)

    def write_json(self, path: str | Path) -> None:
        files.write_json(self, path)

    def write_junit(self, path: str | Path) -> None:
        files.write_junit(self, path)
