"""Does the gate's memory stay flat as a run grows to a million cases?

    python benchmarks/bench_memory.py              # 10,000, 100,000 and 1,000,000 cases
    python benchmarks/bench_memory.py --quick      # 1,000, 5,000 and 10,000 cases
    python benchmarks/bench_memory.py --marks 10000,100000     # marks of your choice

One run of the gate on its reference (seed 0, default cases, --workers 2) up to the largest
mark. As it passes each mark it reads the resident memory of every process of the run: the
gate's own process (its peak so far, VmHWM), the pool's worker processes and their children
(where the implementation runs), each at that moment. A run keeps counts, one byte per case
and the first failures (verification.report.report.Tally), so the gate's process should not
grow with the number of cases.

Target (the scale issue): below 500 MB, and flat from 10,000 to 1,000,000 cases.
A million cases take most of an hour on two cores.
"""

import argparse
import os
import sys
import time

from verification import check

MARKS, QUICK_MARKS = (10_000, 100_000, 1_000_000), (1_000, 5_000, 10_000)
TARGET_MB = 500.0


def _status(pid: int, field: str) -> int:
    """A memory field of /proc/PID/status, in bytes (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _memory() -> tuple[int, int, int]:
    """(the gate's peak so far, its workers' resident memory, their children's), bytes."""
    me = os.getpid()
    workers = _children(me)
    grandchildren = [c for w in workers for c in _children(w)]
    return (
        _status(me, "VmHWM"),
        sum(_status(p, "VmRSS") for p in workers),
        sum(_status(p, "VmRSS") for p in grandchildren),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="marks of 1,000 to 10,000 cases")
    parser.add_argument("--marks", help="comma-separated case counts, e.g. 10000,100000")
    args = parser.parse_args(argv)
    marks = QUICK_MARKS if args.quick else MARKS
    if args.marks:
        marks = tuple(sorted(int(mark) for mark in args.marks.split(",")))
    rows: list[tuple[int, float, tuple[int, int, int]]] = []
    start = time.perf_counter()

    def progress(done: int, total: int, failed: int) -> None:
        while len(rows) < len(marks) and done >= marks[len(rows)]:
            rows.append((marks[len(rows)], time.perf_counter() - start, _memory()))

    report = check(cases=marks[-1], workers=2, progress=progress)
    mb = 2**20
    print(f"one run of {report.cases:,} cases, {report.seconds:.0f} s, ok={report.ok}")
    print(
        f"{'cases':>10} {'time s':>8} {'gate peak MB':>13} {'workers MB':>11} {'children MB':>12}"
    )
    for mark, seconds, (peak, workers, children) in rows:
        print(f"{mark:>10,} {seconds:>8.0f} {peak / mb:>13.0f} {workers / mb:>11.0f} "
              f"{children / mb:>12.0f}")  # fmt: skip
    peaks = [peak for _, _, (peak, _, _) in rows]
    growth = (peaks[-1] - peaks[0]) / mb
    met = max(peaks) / mb < TARGET_MB
    print(f"gate's peak below {TARGET_MB:.0f} MB: {'PASS' if met else 'MISS'}; growth from "
          f"{marks[0]:,} to {marks[-1]:,} cases: {growth:+.1f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
