"""How fast does the gate judge, isolated and in-process, alone, with --workers 2 and on a Dask
cluster; what does isolation cost per call, and the scheduler per chunk?

    python benchmarks/bench_gate.py            # the full run, a few minutes
    python benchmarks/bench_gate.py --quick    # a smoke run

Everything is measured in one run, on the reference (the gate's default implementation),
seed 0, default cases:

1. throughput: cases per second of `verification.check` for each way of running it: in the
   gate's process (in_process=True) and isolated in a child process (the default), serial and
   with workers=2; isolated on a LocalCluster of two Dask worker processes (if dask.distributed
   is installed). Each is the median of REPEATS runs; the scaling efficiency is the rate with
   two workers over twice the serial rate.
2. per call: one call of reference.gradients on the same case, in-process and through the
   child process (write the arguments, send the request, read and check the answer): medians;
   their difference is what isolation costs per call.
3. per chunk: the round trip of an empty task on the local pool and on the Dask cluster, which
   is what the executor costs per chunk of CHUNK_CASES cases.

Target (the isolation issue): isolated with workers=2 at least 150 cases/s on a 2-core machine.
Timings on a shared machine are noisy: rerun before trusting a close call.
"""

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

import reference
from verification import check
from verification.cases import draw_case
from verification.gate.chunks import CHUNK_CASES
from verification.gate.isolation import Isolated
from verification.judge.call import InProcess

TARGET = 150.0  # cases/s, isolated with two workers
CASES, QUICK_CASES = 2000, 200
REPEATS, QUICK_REPEATS = 3, 1
CALLS, QUICK_CALLS = 2000, 200


def _noop() -> None:
    return None


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def _cluster() -> Iterator[Executor | None]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        yield None
        return
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("verification.gate.run"))  # warm: torch loaded
        yield client.get_executor()


def throughput(cases: int, repeats: int) -> list[tuple[str, float]]:
    """(mode, cases/s) for every way of running the gate."""
    rows = []
    modes: list[tuple[str, dict]] = [
        ("in-process, serial", {"in_process": True}),
        ("isolated, serial", {}),
        ("in-process, --workers 2", {"in_process": True, "workers": 2}),
        ("isolated, --workers 2", {"workers": 2}),
    ]
    for name, options in modes:
        seconds = _median_seconds(lambda o=options: check(cases=cases, **o), repeats)
        rows.append((name, cases / seconds))
    with _cluster() as executor:
        if executor is not None:
            seconds = _median_seconds(lambda: check(cases=cases, executor=executor), repeats)
            rows.append(("isolated, Dask LocalCluster of 2", cases / seconds))
    return rows


def per_call(calls: int) -> tuple[float, float]:
    """Median seconds of one call in-process and through the child process."""
    case = draw_case(0, 1)
    in_process = InProcess(reference.gradients)
    isolated = Isolated("reference:gradients")
    try:
        results = []
        for caller in (in_process, isolated):
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                caller(case)
                times.append(time.perf_counter() - start)
            results.append(statistics.median(times))
    finally:
        isolated.close()
    return results[0], results[1]


def per_chunk(calls: int) -> list[tuple[str, float]]:
    """Median seconds of an empty task's round trip on each executor."""
    rows = []
    with ProcessPoolExecutor(2) as pool:
        pool.submit(_noop).result()
        rows.append(("local pool", _median_seconds(lambda: pool.submit(_noop).result(), calls)))
    with _cluster() as executor:
        if executor is not None:
            seconds = _median_seconds(lambda: executor.submit(_noop).result(), calls)
            rows.append(("Dask LocalCluster", seconds))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    quick = parser.parse_args(argv).quick
    cases = QUICK_CASES if quick else CASES
    repeats = QUICK_REPEATS if quick else REPEATS
    calls = QUICK_CALLS if quick else CALLS

    print(f"1. throughput: {cases} default cases of the reference, median of {repeats} runs")
    rows = throughput(cases, repeats)
    rates = dict(rows)
    base = rates["in-process, serial"]
    print(f"  {'mode':<36}{'cases/s':>10}{'vs in-process serial':>24}")
    for name, rate in rows:
        print(f"  {name:<36}{rate:>10.0f}{rate / base:>24.2f}")
    for kind in ("in-process", "isolated"):
        efficiency = rates[f"{kind}, --workers 2"] / (2 * rates[f"{kind}, serial"])
        print(f"  scaling efficiency, {kind}, 2 workers: {efficiency:.2f}")
    met = rates["isolated, --workers 2"] >= TARGET
    print(f"  target: isolated --workers 2 >= {TARGET:.0f} cases/s: {'PASS' if met else 'MISS'}")

    print(f"\n2. per call: reference.gradients on one case, median of {calls} calls")
    inside, child = per_call(calls)
    print(f"  in-process {inside * 1e6:.0f} us, isolated {child * 1e6:.0f} us")
    print(f"  isolation costs {(child - inside) * 1e6:.0f} us per call")

    print(f"\n3. per chunk ({CHUNK_CASES} cases): an empty task's round trip, median of {calls}")
    for name, seconds in per_chunk(min(calls, 200)):
        print(f"  {name:<20}{seconds * 1e3:>8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
