"""What does the exact witness cost per gate case, and how far is the reference from it?

Over the first N cases (default 1,000) of the gate's default stream (draw_case(seed, i,
CaseOptions())), one process, one core:

1. cost: the time of verification.oracles.exact.exact_backprop per case, with every quantity
   resolved (need=QUANTITIES) and with the gradients only (need=GRADIENTS, what a gate needs),
   median, 99th percentile and max, against reference.gradients on the same case (ratio of
   medians); how many cases needed more than the first precision, the final precision of each,
   and the cases left with unresolved entries at MAX_BITS (with the quantities, and regime).
2. the cost of one run at each precision from START_BITS to MAX_BITS, on the largest case the
   gate draws by default (L = 6, every width 16, n = 8, tanh hidden layers, identity output,
   cross_entropy): what a case that climbs the Ziv loop pays at each step.
3. the reference's distance from the exact values: |reference.gradients - exact| in ULPs of
   the exact value (ExactArray.ulp_distance), over the resolved entries of dE/dW^l and dE/db^l:
   median, 99th percentile and max, for all entries and for those whose rounding-error
   allowance A (verification.tolerance.allowance) is at most ALLOWANCE_ROWS ULPs; the share
   of A the reference uses, |reference - exact| / A; and the entries where the reference is
   proved beyond A (ExactArray.within), which a correct reference never is.

    python benchmarks/bench_exact_witness.py               # 1,000 cases, about 15 s
    python benchmarks/bench_exact_witness.py --cases 100   # a quick run

Timings on a shared machine are noisy: rerun before trusting a close call.
"""

import argparse
import collections
import time

import numpy as np

import reference
from verification.cases import CaseOptions, draw_case
from verification.oracles import exact as ew
from verification.oracles.tolerance import allowance

ALLOWANCE_ROWS = (16, 1024)  # rows for entries whose allowance is at most this many ULPs


def percentiles(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(np.median(a)), float(np.percentile(a, 99)), float(a.max())


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def largest_case():
    """L = 6, widths 16, n = 8: the largest case of the default stream, as a plain network."""
    rng = np.random.default_rng(0)
    sizes = (16,) * 7
    arch = reference.Architecture(sizes, ("tanh",) * 5 + ("identity",), "cross_entropy")
    params = [(rng.standard_normal((16, 16)) / 4, 0.5 * rng.standard_normal(16)) for _ in range(6)]
    return arch, params, rng.standard_normal((8, 16)), rng.integers(0, 16, 8)


def precision_table() -> None:
    arch, params, x, y = largest_case()
    print(f"{'one run, largest case':<22}{'time':>10}{'ratio':>8}")
    first = None
    bits = ew.START_BITS
    while bits <= ew.MAX_BITS:
        runs = [
            timed(
                lambda b=bits: (
                    ew.exact_backprop(arch, params, x, y, start_bits=b, max_bits=b)
                    .grad_W[1]
                    .resolved
                )
            )[0]
            for _ in range(3)
        ]
        t = min(runs)
        first = first or t
        print(f"{bits:>17} bits{t * 1e3:>8.1f}ms{t / first:>8.1f}")
        bits *= 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    times = {"all quantities": [], "gradients only": [], "reference.gradients": []}
    final_bits = collections.Counter()
    unresolved = []
    distances = {"all resolved": []} | {f"allowance <= {k} ULP": [] for k in ALLOWANCE_ROWS}
    shares = []
    beyond = 0
    for index in range(args.cases):
        case = draw_case(args.seed, index, CaseOptions())
        arch, params, x, y = case.arch, case.params, case.x, case.y
        t_ref, ref = timed(lambda: reference.gradients(arch, params, x, y))  # noqa: B023
        t_all, exact = timed(lambda: ew.exact_backprop(arch, params, x, y))  # noqa: B023
        t_grad, _ = timed(
            lambda: ew.exact_backprop(arch, params, x, y, need=ew.GRADIENTS)  # noqa: B023
        )
        times["reference.gradients"].append(t_ref)
        times["all quantities"].append(t_all)
        times["gradients only"].append(t_grad)
        final_bits[exact.bits] += 1
        if not exact.resolved:
            names = sorted({line.split("[")[0] for line in exact.unresolved()})
            unresolved.append(f"case {index} ({case.describe()}): {', '.join(names)}")

        for (got_W, got_b), (A_W, A_b), (exact_W, exact_b) in zip(
            ref, allowance(arch, params, x, y), exact.grads, strict=True
        ):
            for got, A, ex in ((got_W, A_W, exact_W), (got_b, A_b, exact_b)):
                d = ex.ulp_distance(got)
                distances["all resolved"].extend(d[ex.resolved].tolist())
                ulp = np.spacing(np.abs(ex.value))  # the ULP of the exact value's binade
                for k in ALLOWANCE_ROWS:
                    small = (k * ulp >= A) & ex.resolved
                    distances[f"allowance <= {k} ULP"].extend(d[small].tolist())
                shares.extend((np.abs(got - ex.value) / A)[ex.resolved].tolist())
                beyond += int(ex.within(got, A).outside.sum())

    print(f"exact witness over {args.cases} cases of the default stream (seed {args.seed})")
    print()
    ref_median = np.median(times["reference.gradients"])
    print(f"{'cost per case':<22}{'median':>10}{'p99':>10}{'max':>10}{'median/ref':>12}")
    for what, ts in times.items():
        med, p99, worst = percentiles(ts)
        print(
            f"{what:<22}{med * 1e3:>8.2f}ms{p99 * 1e3:>8.2f}ms{worst * 1e3:>8.1f}ms"
            f"{med / ref_median:>12.0f}"
        )
    print()
    print(f"{'final precision':<22}{'cases':>10}")
    for bits in sorted(final_bits):
        print(f"{bits:>18} bits{final_bits[bits]:>10}")
    more = sum(count for bits, count in final_bits.items() if bits > ew.START_BITS)
    print(f"cases needing more than {ew.START_BITS} bits: {more} of {args.cases}")
    print(f"cases with unresolved entries at {ew.MAX_BITS} bits: {len(unresolved)}")
    for line in unresolved:
        print("  ", line)
    print()
    precision_table()
    print()
    print("reference.gradients against the exact values, in ULPs of the exact value")
    print(f"{'entries':<34}{'count':>9}{'median':>10}{'p99':>10}{'max':>12}")
    for what, ds in distances.items():
        med, p99, worst = percentiles(ds)
        print(f"{what:<34}{len(ds):>9}{med:>10.3g}{p99:>10.3g}{worst:>12.3g}")
    med, p99, worst = percentiles(shares)
    print(f"{'share of allowance used':<34}{len(shares):>9}{med:>10.2g}{p99:>10.2g}{worst:>12.2g}")
    print(f"entries proved beyond their allowance: {beyond}")


if __name__ == "__main__":
    main()
