"""The gate's report: what a run found, as a terminal summary, JSON and JUnit XML.

A run's memory does not grow with its number of cases: a Tally keeps counts by activation,
loss, depth and regime, one byte per case (passed or not), and the first MAX_KEPT_FAILURES
failures in full; every failure can be streamed to a JSON Lines file as it is found
(verification.gate.run). `Report.summary()` is the terminal text: a header, then
`body_lines()`, which other reports (verification.vectors) reuse under a header of their own.
verification.report.files writes the JSON and JUnit XML files and ends a command.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from verification.cases import Case
from verification.judge import Verdict
from verification.report import files
from verification.report.failure import Failure, printable

PRINTED_FAILURES = 5  # failure blocks in the terminal summary; --json has every kept one
MAX_KEPT_FAILURES = 100
"""Failures kept in full by a run (the first by case index); the others are counted, listed by
index, and streamed to --jsonl if asked."""


@dataclass(frozen=True)
class Judged:
    """What a tally keeps of one judged case: the names it is counted under (activation, loss,
    depth, regime: Judged.of), its verdict, its unjudged entries, and its failure if any."""

    keys: dict[str, tuple[str, ...]]
    passed: bool
    skipped: int
    untrusted: int
    failure: Failure | None

    @classmethod
    def of(
        cls, case: Case, passed: bool, skipped: int, untrusted: int, failure: Failure | None
    ) -> "Judged":
        keys = {
            "activation": tuple(sorted(set(case.arch.activations))),
            "loss": (case.arch.loss,),
            "depth": (str(case.arch.L),),
            "regime": (case.regime,),
        }
        return cls(keys, passed, skipped, untrusted, failure)


@dataclass
class Tally:
    """The counts of a run so far, merged from verdicts or from chunks of a run."""

    first_index: int
    outcomes: bytearray = field(default_factory=bytearray)  # per case: 1 passed, 0 failed
    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0
    untrusted: int = 0

    @classmethod
    def of(cls, first_index: int, judged: list[Judged], max_failures: int | None = None) -> "Tally":
        """The tally of consecutive judged cases from first_index, up to and including the
        max_failures-th failure (all of them if None)."""
        tally = cls(first_index=first_index)
        for one in judged:
            tally.add(one)
            if max_failures is not None and tally.failed >= max_failures:
                break
        return tally

    def add(self, judged: Judged) -> None:
        """Add one judged case, the next by index."""
        for what, names in judged.keys.items():
            for name in names:
                cell = self.counts.setdefault(what, {}).setdefault(name, [0, 0])
                cell[0] += judged.passed
                cell[1] += 1
        self.outcomes.append(judged.passed)
        self.skipped += judged.skipped
        self.untrusted += judged.untrusted
        if judged.failure is not None:
            self.failed += 1
            if len(self.failures) < MAX_KEPT_FAILURES:
                self.failures.append(judged.failure)

    def merge(self, other: "Tally") -> None:
        """Add the tally of other cases (a chunk's); any order of merging gives the same."""
        start = other.first_index - self.first_index
        end = start + len(other.outcomes)
        if len(self.outcomes) < end:
            self.outcomes.extend(b"\x02" * (end - len(self.outcomes)))  # 2: not judged (yet)
        self.outcomes[start:end] = other.outcomes
        for what, names in other.counts.items():
            for name, (passed, judged) in names.items():
                cell = self.counts.setdefault(what, {}).setdefault(name, [0, 0])
                cell[0] += passed
                cell[1] += judged
        self.failed += other.failed
        self.skipped += other.skipped
        self.untrusted += other.untrusted
        kept = sorted(self.failures + other.failures, key=lambda f: f.case["index"])
        self.failures = kept[:MAX_KEPT_FAILURES]


@dataclass(frozen=True, repr=False)
class Report:
    """What the gate found: `ok` is True when every case judged passed.

    failures: the first MAX_KEPT_FAILURES failed cases in full (`failed` counts them all),
    in reading order; isolated: the implementation ran in a child process (False:
    --in-process); own: the implementation judged is this project's own reference; stopped:
    why the run ended before its last case, if it did.
    """

    impl: str
    seed: int
    cases: int
    passed: int
    failed: int
    failures: list[Failure]
    skipped_entries: int
    seconds: float
    by_activation: dict[str, list[int]]  # name -> [passed, judged]
    by_loss: dict[str, list[int]]
    by_depth: dict[str, list[int]]
    by_regime: dict[str, list[int]]
    isolated: bool = True
    own: bool = False
    stopped: str | None = None
    first_index: int = 0
    outcomes: bytes = field(default=b"", compare=False)
    untrusted_entries: int = 0  # finite-difference entries no step could be trusted for

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.cases > 0

    @classmethod
    def from_tally(
        cls,
        tally: Tally,
        *,
        impl: str,
        seed: int,
        seconds: float,
        isolated: bool = True,
        own: bool = False,
        stopped: str | None = None,
        order: object = None,
    ) -> "Report":
        """The report of a finished (or stopped) run; `order` sorts the kept failures into
        reading order (a key function of a Failure), by index if None."""
        judged = bytes(b for b in tally.outcomes if b != 2)
        failures = sorted(tally.failures, key=order) if order is not None else tally.failures

        def table(what: str) -> dict[str, list[int]]:
            cells = tally.counts.get(what, {})
            key = (lambda k: int(k)) if what == "depth" else None
            return {k: list(cells[k]) for k in sorted(cells, key=key)}

        return cls(
            impl=impl,
            seed=seed,
            cases=len(judged),
            passed=judged.count(1),
            failed=judged.count(0),
            failures=failures,
            skipped_entries=tally.skipped,
            seconds=seconds,
            by_activation=table("activation"),
            by_loss=table("loss"),
            by_depth=table("depth"),
            by_regime=table("regime"),
            isolated=isolated,
            own=own,
            stopped=stopped,
            first_index=tally.first_index,
            outcomes=bytes(tally.outcomes),
            untrusted_entries=tally.untrusted,
        )

    @classmethod
    def gather(
        cls, impl: str, seed: int, verdicts: list[Verdict], failures: list[Failure], seconds: float
    ) -> "Report":
        """The report of verdicts judged one by one (golden vectors)."""
        judged = [Judged.of(v.case, v.passed, v.skipped, v.untrusted, None) for v in verdicts]
        tally = Tally.of(0, judged)
        tally.failures, tally.failed = failures[:MAX_KEPT_FAILURES], len(failures)
        return cls.from_tally(tally, impl=impl, seed=seed, seconds=seconds)

    def __repr__(self) -> str:
        """Short: the whole report is summary() (or to_dict())."""
        return (
            f"Report(impl={self.impl!r}, seed={self.seed}, cases={self.cases}, ok={self.ok}, "
            f"failures={self.failed})"
        )

    @property
    def failed_cases(self) -> list[int]:
        """The index of every failed case (kept in full or not)."""
        return [self.first_index + k for k, b in enumerate(self.outcomes) if b == 0]

    def header_lines(self) -> list[str]:
        """The first lines of the summary: who was judged, how fast, and the verdict."""
        rate = self.cases / self.seconds if self.seconds > 0 else float("inf")
        verdict = "PASSED" if self.ok else "FAILED"
        own = " (this project's own reference)" if self.own else ""
        lines = [
            f"backprop-gate: {self.impl}{own}, {self.cases} cases from seed "
            f"{self.seed} in {self.seconds:.1f} s ({rate:.3g} cases/s)",
        ]
        if not self.isolated:
            lines.append(
                "  not isolated: the implementation ran inside the gate's own process "
                "(--in-process, or a callable that cannot be imported by name), where what it "
                "does can change the verdict"
            )
        lines.append(f"{verdict}: {self.passed} of {self.cases} cases passed")
        if self.stopped:
            lines[-1] += f"; stopped {self.stopped}"
        return [printable(line) for line in lines]  # the impl's spec may hold anything

    def body_lines(self, call: str | None = None) -> list[str]:
        """The counts by activation, loss, depth and regime, then the first failures. `call`
        (e.g. "backprop_gate.check") is the Python function the report was made by, for
        reproductions written as calls of it."""
        lines = []
        for title, counts in (
            ("by activation", self.by_activation),
            ("by loss", self.by_loss),
            ("by depth", self.by_depth),
            ("by regime", self.by_regime),
        ):
            if counts:
                cells = "  ".join(f"{k} {p}/{j}" for k, (p, j) in counts.items())
                lines.append(printable(f"  {title:<14}{cells}"))
        if self.skipped_entries or self.untrusted_entries:
            lines.append(
                f"  finite differences left {self.skipped_entries} entries unjudged at kinks "
                f"and {self.untrusted_entries} without a trustworthy step; torch.autograd "
                "judged them all"
            )
        for failure in self.failures[:PRINTED_FAILURES]:
            lines += ["", failure.render(call)]
        rest = self.failed - min(PRINTED_FAILURES, len(self.failures))
        if rest > 0:
            printed = {f.case["index"] for f in self.failures[:PRINTED_FAILURES]}
            others = [i for i in self.failed_cases if i not in printed]
            indices = ", ".join(str(i) for i in others[:20])
            more = ", ..." if len(others) > 20 else ""
            lines.append(f"\n{rest} more failed cases: {indices}{more}")
        return lines

    def summary(self, call: str | None = None) -> str:
        """The terminal text: header_lines, then body_lines (`call`: see there)."""
        return "\n".join(self.header_lines() + self.body_lines(call))

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["outcomes"]
        data["ok"] = self.ok
        data["failed_cases"] = self.failed_cases
        data["failures"] = [
            {k: v for k, v in f.items() if k != "description"} for f in data["failures"]
        ]
        return data

    def junit_cases(self) -> list[tuple[str, Failure | None]]:
        """One (name, failure or None) per case judged, in index order; a failed case whose
        failure was not kept in full gets a stand-in saying so."""
        kept = {f.case["index"]: f for f in self.failures}
        cases: list[tuple[str, Failure | None]] = []
        for k, outcome in enumerate(self.outcomes):
            index = self.first_index + k
            if outcome == 1:
                cases.append((f"case {index} (seed {self.seed})", None))
            elif outcome == 0:
                failure = kept.get(index) or Failure.not_kept(self.seed, index)
                cases.append((failure.description, failure))
        return cases

    def finish(self, prog: str, *, json_path: str | None, junit_path: str | None) -> int:
        """Print the summary, write the files asked for, return the exit status
        (verification.report.files.finish)."""
        return files.finish(self, prog, json_path=json_path, junit_path=junit_path)

    def write_json(self, path: str | Path) -> None:
        files.write_json(self, path)

    def write_junit(self, path: str | Path) -> None:
        files.write_junit(self, path)
