"""Does the gate ever fail correct code? A sweep of correct implementations through the gate.

Correct implementations: the reference, and every correct one of
verification/tests/alternatives.py (other summation orders: reversed, pairwise, shuffled per
call; other formulas: the textbook ones, logsumexp, the exp formulas with tanh as
2 / (1 + e^-2z) - 1; other layouts: examples as columns, one backprop per example; torch and
HIPS autograd), plus the bug zoo's correct Textbook baseline. Each is judged by the gate's own
judge (verification.judge.judge: torch.autograd, finite differences, determinism) on:

    streams   every hidden activation alone x every loss, `--cases` cases from each seed:
              CaseOptions(activations=(A,), losses=(loss,)), as `python -m verification
              --activations A --losses LOSS --seed S` draws them;
    mix       the default options, `--mix-cases` cases from each seed.

`--output-activations` restricts the output layer, so that a stream is hidden activation x
loss x output activation: passed to CaseOptions where it has that field, and otherwise
emulated: the cases are drawn with the hidden and the output activations allowed everywhere,
and only those whose hidden layers are the hidden activation and whose output layer is among
the names are judged (the count of cases judged says how many).

The oracles of a case (torch.autograd, finite differences, the allowance) are computed once
and shared by every implementation. Every failure is a false alarm: the table prints them by
stream and implementation, then every failure in one line (its case, regime, oracle and
message). `--jsonl PATH` appends one record per stream (and one per failure), and with
`--resume` the streams already in PATH are not run again. One core: the machine is shared.

    python benchmarks/sweep_false_alarms.py --seeds 0-2 --cases 2000          # a subset
    python benchmarks/sweep_false_alarms.py --seeds 0-9 --cases 2000 \\
        --mix-seeds 0-9 --mix-cases 10000 --jsonl sweep.jsonl --resume          # the full run
"""

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

# this checkout's packages, whatever is installed (benchmarks is not a package)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import reference
from verification.cases import CaseOptions, draw_case
from verification.oracles.consult import Oracles
from verification.tests import alternatives
from verification.tests.judging import approximate_verdict
from verification.zoo.bugs import Textbook

IMPLEMENTATIONS: dict[str, Callable] = {
    "reference": reference.gradients,
    "plain": alternatives.plain,
    **alternatives.CORRECT,
    "zoo_textbook": Textbook(),
}
"""Every correct implementation the sweep judges, by name."""


def seeds(text: str) -> list[int]:
    """'0-9' or '0,3,5' -> a list of seeds."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


@dataclasses.dataclass(frozen=True)
class Stream:
    """One stream of cases: its name, seed, options and length."""

    name: str
    seed: int
    options: CaseOptions
    cases: int
    outputs: tuple[str, ...] | None = None  # emulated output restriction, None: every case
    hidden: str | None = None  # with outputs: the hidden layers' activation


def options_for(output_activations: tuple[str, ...] | None, **kwargs) -> tuple[CaseOptions, bool]:
    """CaseOptions with the output restriction passed through where CaseOptions has it; the
    bool says whether the restriction must be emulated by filtering the drawn cases (then the
    output activations are allowed in every layer, and the filter keeps the right ones)."""
    fields = {f.name for f in dataclasses.fields(CaseOptions)}
    if output_activations and "output_activations" in fields:
        return CaseOptions(output_activations=output_activations, **kwargs), False
    if output_activations:
        hidden = kwargs.pop("activations", CaseOptions().activations)
        allowed = tuple(dict.fromkeys((*hidden, *output_activations)))
        return CaseOptions(activations=allowed, **kwargs), True
    return CaseOptions(**kwargs), False


def streams_of(args: argparse.Namespace) -> Iterator[Stream]:
    outputs = tuple(args.output_activations.split(",")) if args.output_activations else None
    for seed in seeds(args.seeds) if args.cases else []:
        for activation in args.activations.split(","):
            for loss in args.losses.split(","):
                options, emulate = options_for(outputs, activations=(activation,), losses=(loss,))
                name = f"{activation} {loss}" + (f" -> {','.join(outputs)}" if outputs else "")
                if emulate:
                    yield Stream(name, seed, options, args.cases, outputs, activation)
                else:
                    yield Stream(name, seed, options, args.cases)
    for seed in seeds(args.mix_seeds) if args.mix_cases else []:
        options, emulate = options_for(outputs)
        yield Stream("default mix", seed, options, args.mix_cases, outputs if emulate else None)


def run_stream(stream: Stream, impls: dict[str, Callable]) -> tuple[dict, list[dict]]:
    """Judge every implementation on every case of the stream: (counts, failures)."""
    failing: Counter = Counter()
    failures, judged, regimes = [], 0, Counter()
    unjudged = Counter()
    start = time.perf_counter()
    for index in range(stream.cases):
        case = draw_case(stream.seed, index, stream.options)
        if stream.outputs is not None and not (
            case.arch.activations[-1] in stream.outputs
            and (stream.hidden is None or set(case.arch.activations[:-1]) <= {stream.hidden})
        ):
            continue
        judged += 1
        regimes[case.regime] += 1
        oracles = Oracles.of(case)
        unjudged["kink"] += oracles.finite_differences.skipped_count
        unjudged["no trustworthy step"] += getattr(oracles.finite_differences, "untrusted_count", 0)
        for name, impl in impls.items():
            verdict = approximate_verdict(impl, case, oracles)
            if verdict.passed:
                continue
            failing[name] += 1
            main = verdict.findings[0]
            oracle = next((m.oracle for m in main.mismatches if m.layer == main.layer), None)
            failures.append(
                {
                    "impl": name,
                    "stream": stream.name,
                    "seed": stream.seed,
                    "index": index,
                    "regime": case.regime,
                    "case": case.describe(),
                    "kind": main.kind,
                    "oracle": oracle,
                    "message": main.message,
                }
            )
    counts = {
        "stream": stream.name,
        "seed": stream.seed,
        "cases": stream.cases,
        "judged": judged,
        "regimes": dict(regimes),
        "failing": {name: failing[name] for name in impls},
        "fd_unjudged_entries": dict(unjudged),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return counts, failures


def table(records: list[dict], impls: list[str]) -> str:
    """Failing cases by stream family (summed over seeds) and implementation."""
    by_stream: dict[str, Counter] = {}
    cases: Counter = Counter()
    seeds_of: dict[str, set] = {}
    for r in records:
        by_stream.setdefault(r["stream"], Counter()).update(r["failing"])
        cases[r["stream"]] += r["judged"]
        seeds_of.setdefault(r["stream"], set()).add(r["seed"])
    short = {name: name[:9] for name in impls}
    lines = [
        f"{'stream':<32} {'seeds':>5} {'cases':>7} " + " ".join(f"{short[i]:>9}" for i in impls)
    ]
    for stream, failing in by_stream.items():
        lines.append(
            f"{stream:<32} {len(seeds_of[stream]):>5} {cases[stream]:>7} "
            + " ".join(f"{failing[i]:>9}" for i in impls)
        )
    total = Counter()
    for failing in by_stream.values():
        total.update(failing)
    lines.append(
        f"{'total':<32} {'':>5} {sum(cases.values()):>7} "
        + " ".join(f"{total[i]:>9}" for i in impls)
    )
    judgments = sum(cases.values()) * len(impls)
    lines.append(
        f"false alarms: {sum(total.values())} failed judgments of {judgments} "
        f"({sum(cases.values())} cases x {len(impls)} correct implementations)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-2", help="seeds of the per-activation streams")
    parser.add_argument("--cases", type=int, default=2000, help="cases per stream (0: none)")
    parser.add_argument("--activations", default=",".join(reference.ACTIVATIONS))
    parser.add_argument("--losses", default=",".join(reference.LOSSES))
    parser.add_argument("--output-activations", default=None)
    parser.add_argument("--mix-seeds", default="0-9", help="seeds of the default-mix streams")
    parser.add_argument("--mix-cases", type=int, default=0, help="cases per mix stream")
    parser.add_argument("--impls", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--jsonl", default=None, help="append records here")
    parser.add_argument("--resume", action="store_true", help="skip streams already in --jsonl")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the gate does: cases are tiny, and the machine is shared
    impls = {name: IMPLEMENTATIONS[name] for name in args.impls.split(",")}
    done: dict[tuple[str, int], dict] = {}
    failures: list[dict] = []
    if args.resume and args.jsonl and Path(args.jsonl).exists():
        for line in Path(args.jsonl).read_text().splitlines():
            record = json.loads(line)
            if "failing" in record and set(record["failing"]) == set(impls):
                done[(record["stream"], record["seed"], record["cases"])] = record
            elif "impl" in record:
                failures.append(record)
    records = []
    for stream in streams_of(args):
        key = (stream.name, stream.seed, stream.cases)
        if key in done:
            records.append(done[key])
            continue
        counts, found = run_stream(stream, impls)
        records.append(counts)
        failures += found
        print(
            f"{stream.name} seed {stream.seed}: {counts['judged']} cases, failing "
            f"{ {k: v for k, v in counts['failing'].items() if v} } in {counts['seconds']} s",
            file=sys.stderr,
            flush=True,
        )
        if args.jsonl:
            with open(args.jsonl, "a") as out:
                for record in [*found, counts]:
                    out.write(json.dumps(record) + "\n")
    print(table(records, list(impls)))
    keys = {(r["stream"], r["seed"]) for r in records}
    for f in failures:
        if (f["stream"], f["seed"]) in keys:
            print(
                f"  {f['impl']}: {f['stream']} seed {f['seed']} case {f['index']} "
                f"({f['regime']}): {f['kind']} against {f['oracle']}: {f['message']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
