"""Is the finite-difference witness ever confidently wrong? Its estimates against the exact
gradient.

For every entry finite differences judge (neither skipped at a kink nor untrusted), the ratio
|estimate - exact| / (2A + error): A is the allowance of a correct implementation, error the
estimate's own error bound, exact the exact witness's correctly rounded gradient (entries whose
ball is unresolved are left out). The gate trusts an estimate within 2A + error, so a ratio
above 1 is a confident wrong answer: finite differences would fail a correct implementation
that sits on the exact value. Target: every ratio below 1.

Streams (seed SEED): each smooth activation alone in the saturated regime (every loss), the
default mix, and the large_logits regime; `--cases` cases each.

    python benchmarks/fd_against_exact.py              # 300 cases per stream, a few minutes
    python benchmarks/fd_against_exact.py --cases 50   # a quick look
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# this checkout's packages, whatever is installed (benchmarks is not a package)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from verification.cases import CaseOptions, draw_case
from verification.oracles.consult import Oracles

SEED = 0
STREAMS: dict[str, CaseOptions] = {
    **{
        f"{name} alone, saturated": CaseOptions(activations=(name,), regimes=("saturated",))
        for name in ("softplus", "elu", "gelu_tanh", "tanh", "sigmoid")
    },
    "default mix": CaseOptions(),
    "large_logits": CaseOptions(regimes=("large_logits",)),
}


def ratios(case) -> tuple[np.ndarray, int, int]:
    """(the ratio of every judged, resolved entry; entries skipped or untrusted; unresolved)."""
    oracles = Oracles.of(case)
    fd = oracles.finite_differences
    found, left, unresolved = [], 0, 0
    for l, (exact_W, exact_b) in enumerate(oracles.exact.grads):
        for k, exact in enumerate((exact_W, exact_b)):
            judged = ~(fd.skipped[l][k] | fd.untrusted[l][k])
            left += int((~judged).sum())
            resolved = judged & exact.resolved
            unresolved += int((judged & ~exact.resolved).sum())
            off = np.abs(fd.grads[l][k] - exact.value)
            found.append((off / (2 * oracles.allowed[l][k] + fd.error[l][k]))[resolved])
    return np.concatenate(found), left, unresolved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per stream")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"seed {SEED}, {args.cases} cases per stream; ratio = |estimate - exact| / (2A + error)")
    header = f"{'stream':<28} {'entries':>8} {'median':>9} {'p99':>9} {'max':>9} {'> 1':>5}"
    print(header + f" {'not judged':>11} {'unresolved':>11}")
    worst = 0.0
    for name, options in STREAMS.items():
        found, left, unresolved = [], 0, 0
        for index in range(args.cases):
            r, skipped, open_balls = ratios(draw_case(SEED, index, options))
            found.append(r)
            left += skipped
            unresolved += open_balls
        r = np.concatenate(found)
        worst = max(worst, float(r.max(initial=0.0)))
        print(
            f"{name:<28} {r.size:>8} {np.median(r):>9.2g} {np.quantile(r, 0.99):>9.2g} "
            f"{r.max(initial=0.0):>9.2g} {int((r > 1).sum()):>5} {left:>11} {unresolved:>11}",
            flush=True,
        )
    print(f"\nlargest ratio: {worst:.3g} (target: below 1); {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
