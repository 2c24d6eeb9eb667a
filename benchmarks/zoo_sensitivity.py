"""What does the gate's tolerance cost in sensitivity? For every bug of the bug zoo, the share
of 200-case runs that catch it.

For each bug of verification.zoo.bugs.ZOO and each seed, one run as a user's CI runs the gate:
`verification.check(bug.impl(), cases=200, seed=S, **bug.options, shrink_failures=0,
in_process=True)` (in-process only to save the child process: the judge is the same). Columns:
the runs that catch the bug; the failing cases of 200, median and least over the seeds; and
which witnesses named the failing cases kept in full in the report (torch.autograd, finite
differences, the exact witness, the first call for determinism; "-" for failures that are not
value comparisons: structure, exceptions, mutation, non-finite values). Target: every bug
caught on every seed.

    python benchmarks/zoo_sensitivity.py                 # seeds 0-19: about an hour, 2 shared cores
    python benchmarks/zoo_sensitivity.py --seeds 0-1     # a quick look
"""

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

# this checkout's packages, whatever is installed (benchmarks is not a package)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from verification import check
from verification.zoo.bugs import ZOO

CASES = 200


def _seeds(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-19", help="a seed or a range FIRST-LAST")
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    start = time.perf_counter()
    print(f"{len(ZOO)} bugs, {CASES} cases per run, seeds {args.seeds}\n")
    print("| bug | runs that catch it | failing cases: median (least) | named by |")
    print("|---|---|---|---|")
    missed = 0
    for bug in ZOO:
        failing, witnesses = [], Counter()
        for seed in seeds:
            report = check(
                bug.impl(), cases=CASES, seed=seed, **bug.options, shrink_failures=0,
                in_process=True,
            )  # fmt: skip
            failing.append(report.failed)
            witnesses.update(f.oracle or "-" for f in report.failures)
        caught = sum(1 for count in failing if count)
        missed += len(seeds) - caught
        named = ", ".join(f"{name} {count}" for name, count in witnesses.most_common())
        print(
            f"| {bug.name} | {caught}/{len(seeds)} | {statistics.median(failing):g} "
            f"({min(failing)}) | {named} |",
            flush=True,
        )
    print(f"\nruns that missed a bug: {missed} of {len(ZOO) * len(seeds)}")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
