"""How far are the reference's gradients from the exact ones, and from their allowance?

    python benchmarks/reference_accuracy.py              # 10,000 default cases, some minutes
    python benchmarks/reference_accuracy.py --cases 500  # a quick look

For each case of the gate's default stream (seed 0), every entry of reference.gradients is
compared with the exact witness (verification.oracles.exact: ball arithmetic, correctly rounded
float64):

- its distance from the exact value in ULPs of that value (ExactArray.ulp_distance: an upper
  bound over the ball), over all entries, and over the entries whose allowance A is at most
  64 ULP of their value (where an entry is well conditioned: the others are sums that cancel
  to a value far below the size of their terms, where an error of an ULP of the terms is many
  ULPs of the result, as the tolerance policy allows);
- its actual error over its allowance, |got - exact| / A (verification.oracles.tolerance: the
  first-order bound a correct implementation stays within), and whether any entry is proved
  beyond A (ExactArray.within, decided on the ball).

It prints the median, 99th percentile and maximum of each, and the count of entries proved
beyond their allowance, which the tolerance policy says must be 0.
"""

import argparse
import sys
import time

import numpy as np

import reference
from verification.cases import draw_case
from verification.oracles.exact import GRADIENTS, exact_backprop
from verification.oracles.tolerance import allowance

WELL_CONDITIONED_ULPS = 64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ulps, ulps_conditioned, ratios = [], [], []
    beyond = unresolved = entries = 0
    start = time.perf_counter()
    for index in range(args.cases):
        case = draw_case(args.seed, index)
        got = reference.gradients(case.arch, case.params, case.x, case.y)
        A = allowance(case.arch, case.params, case.x, case.y)
        exact = exact_backprop(case.arch, case.params, case.x, case.y, need=GRADIENTS)
        for (g_W, g_b), (e_W, e_b), (a_W, a_b) in zip(got, exact.grads, A, strict=True):
            for g, e, a in ((g_W, e_W, a_W), (g_b, e_b, a_b)):
                distance = e.ulp_distance(g)
                unit = np.spacing(np.abs(e.value))
                entries += g.size
                unresolved += int((~e.resolved).sum())
                ulps.append(distance.ravel())
                ulps_conditioned.append(distance[a <= WELL_CONDITIONED_ULPS * unit].ravel())
                ratios.append((np.abs(g - e.value) / a).ravel())
                beyond += int(e.within(g, a).outside.sum())
    seconds = time.perf_counter() - start
    print(
        f"{args.cases:,} default cases (seed {args.seed}), {entries:,} gradient entries, "
        f"{seconds:.0f} s; {unresolved} entries the exact witness left unresolved"
    )
    print(f"{'':<48}{'median':>12}{'99th pct':>12}{'max':>12}")
    for label, values in (
        ("distance from the exact value, ULP (all)", np.concatenate(ulps)),
        (
            f"  where A <= {WELL_CONDITIONED_ULPS} ULP of the value",
            np.concatenate(ulps_conditioned),
        ),
        ("actual error / allowance A", np.concatenate(ratios)),
    ):
        med, p99, top = np.percentile(values, [50, 99, 100])
        print(f"{label:<48}{med:>12.3g}{p99:>12.3g}{top:>12.3g}")
    print(f"entries proved beyond their allowance: {beyond} (the policy: 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
