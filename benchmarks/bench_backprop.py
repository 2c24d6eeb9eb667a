"""How fast is the reference's backprop, against torch.autograd and against the machine's BLAS?

For each size (tiny, small, medium, large) and each network, it times one forward plus backward
pass of `reference.gradients` (the public call, input validation included) and of an idiomatic
torch.autograd implementation of the same network, both float64 on the CPU, with the same
parameters and the same batch. The two are timed in one run, interleaved in alternating bursts
of calls (see BURSTS), with the garbage collector off, and each time is the median over many
calls. It prints the time ratio reference/torch, the reference's share of the best float64
matrix-multiply rate measured in the same run, and the peak memory of one reference call
against the trace that call must keep, then PASS or MISS for each of the reference's speed and
memory targets (MAX_TIME_RATIO, MIN_MATMUL_SHARE_LARGE and MAX_PEAK_OVER_KEPT below).

    python benchmarks/bench_backprop.py            # the full run, a few minutes
    python benchmarks/bench_backprop.py --quick    # a smoke run, well under a minute

Timings on a shared machine are noisy: rerun before trusting a close call.
"""

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

import reference

# --- what is measured -----------------------------------------------------------------------

SIZES: dict[str, tuple[int, tuple[int, ...]]] = {
    "tiny": (8, (4, 8, 8, 2)),
    "small": (32, (10, 32, 32, 1)),
    "medium": (256, (256, 512, 512, 10)),
    "large": (1024, (1024, 2048, 2048, 10)),
}
"""size name -> (batch n, widths n_0..n_L)."""

NETWORKS: dict[str, tuple[str, str]] = {
    "tanh/mse": ("tanh", "squared_error"),
    "relu/mse": ("relu", "squared_error"),
    "tanh/xent": ("tanh", "cross_entropy"),
}
"""row label -> (hidden activation, loss); the output activation is always identity."""

MAIN = "tanh/mse"  # the targets refer to this network's rows; the others show the spread

REPEATS = {"tiny": 3000, "small": 3000, "medium": 200, "large": 15}
QUICK_REPEATS = {"tiny": 300, "small": 300, "medium": 20, "large": 3}
"""Timed calls of each implementation per (size, network); the time is their median."""

MATMUL_REPEATS, QUICK_MATMUL_REPEATS = 7, 3

# The targets set for the reference: at most half of torch's time up to medium, at most torch's
# time at large, and 85% of the machine's matmul rate at large.
MAX_TIME_RATIO = {"tiny": 0.5, "small": 0.5, "medium": 0.5, "large": 1.0}
MIN_MATMUL_SHARE_LARGE = 0.85
MAX_PEAK_OVER_KEPT = 1.5


# --- the two implementations ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One network, its parameters and batch, as NumPy arrays and as torch tensors."""

    size: str
    network: str
    arch: reference.Architecture
    params: reference.Params
    x: np.ndarray
    y: np.ndarray

    @property
    def flops(self) -> int:
        """6 n sum_l n_{l-1} n_l: a forward and two backward products per layer (2 FLOPs each)."""
        n = self.x.shape[0]
        return 6 * n * sum(m * k for m, k in pairwise(self.arch.sizes))

    @property
    def blas_flops(self) -> int:
        """The FLOPs of the products backprop does: 6 n sum_l n_{l-1} n_l less delta^0's.

        Nobody needs dE/dx = delta^1 (W^1)^T, so neither the reference nor torch computes it.
        """
        n, (n_0, n_1) = self.x.shape[0], self.arch.sizes[:2]
        return self.flops - 2 * n * n_0 * n_1


def make_case(size: str, network: str, seed: int = 0) -> Case:
    n, sizes = SIZES[size]
    hidden, loss = NETWORKS[network]
    arch = reference.Architecture(
        sizes=sizes, activations=(hidden,) * (len(sizes) - 2) + ("identity",), loss=loss
    )
    rng = np.random.default_rng(seed)
    params = reference.init_params(arch, rng)
    # nonzero biases, so that b^l is exercised as in a trained network
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    x = rng.standard_normal((n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], size=n)
    else:
        y = rng.standard_normal((n, sizes[-1]))
    return Case(size, network, arch, params, x, y)


def reference_call(case: Case) -> Callable[[], reference.Params]:
    arch, params, x, y = case.arch, case.params, case.x, case.y
    return lambda: reference.gradients(arch, params, x, y)


def torch_call(case: Case) -> Callable[[], tuple[torch.Tensor, ...]]:
    """The same network in idiomatic torch: tensors made once, torch.autograd.grad per call."""
    hidden, loss = NETWORKS[case.network]
    phi = {"tanh": torch.tanh, "relu": torch.relu}[hidden]
    Ws = [torch.tensor(W, requires_grad=True) for W, _ in case.params]
    bs = [torch.tensor(b, requires_grad=True) for _, b in case.params]
    leaves = [t for pair in zip(Ws, bs, strict=True) for t in pair]
    x = torch.tensor(case.x)
    y = torch.tensor(case.y)
    n, L = case.x.shape[0], case.arch.L

    def call() -> tuple[torch.Tensor, ...]:
        h = x
        for l, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1):
            z = torch.addmm(b, h, W)  # z^l = h^{l-1} W^l + b^l in one BLAS call
            h = phi(z) if l < L else z
        if loss == "cross_entropy":
            E = torch.nn.functional.cross_entropy(h, y)
        else:
            E = ((h - y) ** 2).sum() / (2 * n)
        return torch.autograd.grad(E, leaves)

    return call


def largest_difference(case: Case) -> float:
    """max |ref - torch| / max |torch| over all gradients: both must compute the same thing."""
    ours = [a for pair in reference_call(case)() for a in pair]
    theirs = [t.numpy() for t in torch_call(case)()]
    return max(
        float(np.abs(a - t).max() / max(np.abs(t).max(), 1e-300))
        for a, t in zip(ours, theirs, strict=True)
    )


# --- timing ---------------------------------------------------------------------------------


BURSTS = 20
"""Each implementation is timed in this many bursts of calls, alternating with the other's.

Alternating call by call would cost the reference ~40 us per call at tiny: whatever runs right
after a torch call is slowed (caches, branch predictors, torch's worker threads). In bursts,
only the first call of each burst pays, and the median ignores it; slow drifts of the machine's
load still hit both implementations alike."""


def interleaved_medians(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median seconds of each callable over `repeats` calls, timed in alternating bursts."""
    first(), second()  # warm up caches, allocators and thread pools
    burst = max(1, repeats // BURSTS)
    times: tuple[list[float], list[float]] = ([], [])
    calls = (first, second)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(max(1, repeats // burst)):
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                for _ in range(burst):
                    start = time.perf_counter()
                    calls[i]()
                    times[i].append(time.perf_counter() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(times[0]), statistics.median(times[1])


def matmul_rates(repeats: int) -> list[tuple[str, float]]:
    """float64 GFLOP/s (median of repeats) of NumPy's BLAS and torch's at the shapes that matter.

    2048 x 2048 @ 2048 x 2048, and the three products of the large network's layer 2:
    h @ W (forward), h^T @ delta (dE/dW), delta @ W^T (delta^{l-1}).
    """
    rng = np.random.default_rng(1)
    n, (_, m, k, _) = SIZES["large"]
    shapes = {
        "2048^3": ((2048, 2048), (2048, 2048), False, False),
        "h@W": ((n, m), (m, k), False, False),
        "h.T@delta": ((n, m), (n, k), True, False),
        "delta@W.T": ((n, k), (m, k), False, True),
    }
    rates = []
    for name, (shape_a, shape_b, ta, tb) in shapes.items():
        A, B = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        A_op, B_op = (A.T if ta else A), (B.T if tb else B)
        tA, tB = torch.tensor(A), torch.tensor(B)
        tA_op, tB_op = (tA.T if ta else tA), (tB.T if tb else tB)
        flops = 2 * A_op.shape[0] * A_op.shape[1] * B_op.shape[1]
        t_np, t_torch = interleaved_medians(
            lambda A_op=A_op, B_op=B_op: A_op @ B_op,
            lambda tA_op=tA_op, tB_op=tB_op: tA_op @ tB_op,
            repeats,
        )
        rates.append((f"numpy {name}", flops / t_np / 1e9))
        rates.append((f"torch {name}", flops / t_torch / 1e9))
    return rates


# --- memory ---------------------------------------------------------------------------------


def kept_shapes(case: Case) -> list[tuple[int, ...]]:
    """The arrays one gradients() call must keep: z^1..z^L, h^1..h^L and what it returns.

    forward-then-backward must hold the whole trace at the turn: every z^l (for dphi_l(z^l))
    and every h^l (h^{l-1} for dE/dW^l, h^L for dE/dh^L); x = h^0 is the caller's. Then the
    gradients dE/dW^l and dE/db^l, which it returns.
    """
    n = case.x.shape[0]
    trace = [(n, width) for width in case.arch.sizes[1:] for _ in "zh"]
    returned = [shape for W, b in case.params for shape in (W.shape, b.shape)]
    return trace + returned


def kept_bytes(case: Case) -> int:
    """What tracemalloc counts for NumPy arrays of the kept shapes: data and array objects.

    The array objects (~200 bytes each) matter at tiny only, where the data are ~3 KB.
    """
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        arrays = [np.empty(shape, dtype=case.x.dtype) for shape in kept_shapes(case)]
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del arrays
    return kept - base


def peak_bytes(case: Case) -> int:
    """Peak bytes allocated (NumPy reports to tracemalloc) during one reference call."""
    call = reference_call(case)
    call()
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        grads = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del grads
    return peak - base


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """The measurements of one (size, network)."""

    case: Case
    t_ref: float  # seconds, median
    t_torch: float  # seconds, median
    best_rate: float  # GFLOP/s
    peak: int  # bytes
    kept: int  # bytes: trace + returned gradients
    diff: float

    @property
    def ratio(self) -> float:
        return self.t_ref / self.t_torch

    @property
    def floor(self) -> float:
        """The least ratio possible: the reference's products alone at the best rate."""
        return self.case.blas_flops / (self.best_rate * 1e9) / self.t_torch

    @property
    def share(self) -> float:
        return self.case.flops / self.t_ref / (self.best_rate * 1e9)


def measure(size: str, network: str, repeats: int, best_rate: float) -> Row:
    case = make_case(size, network)
    diff = largest_difference(case)
    t_ref, t_torch = interleaved_medians(reference_call(case), torch_call(case), repeats)
    return Row(case, t_ref, t_torch, best_rate, peak_bytes(case), kept_bytes(case), diff)


HEADER = (
    f"{'size':<7}{'network':<11}{'ref ms':>10}{'torch ms':>10}{'ref/torch':>10}{'target':>8}"
    f"{'floor':>7}{'share':>7}{'peak MB':>9}{'kept MB':>9}{'peak/kept':>10}{'max rel diff':>14}"
)

LEGEND = f"""\
ref ms, torch ms: median time of one forward + backward (reference.gradients with its input
  checks; torch: forward, E, torch.autograd.grad over every W^l and b^l).
target: the most ref/torch allowed (MAX_TIME_RATIO).
floor: the least ref/torch possible for any NumPy code: the time the reference's products
  alone would take at the best matmul rate above (all FLOPs but delta^0's), over torch's time.
share: 6 n sum_l n_{{l-1}} n_l FLOPs / ref time / the best matmul rate above; it can pass 100%,
  since nobody computes delta^0 = dE/dx (2 n n_0 n_1 of those FLOPs).
peak MB: the most memory allocated during one reference.gradients call (tracemalloc), Python
  objects included (they dominate at tiny and small).
kept MB: what the call must keep: the trace z^1..z^L and h^1..h^L (n sum_l n_l floats each,
  x = h^0 is the caller's) plus the gradients dE/dW^l, dE/db^l it returns, measured as
  tracemalloc counts NumPy arrays of those shapes (data plus ~200 bytes per array object).
max rel diff: max |ref - torch| / max |torch| over all gradients: the same computation.
The targets refer to the {MAIN} rows (tanh hidden layers, identity output, squared_error);
  relu/mse (relu hidden layers) and tanh/xent (cross_entropy loss) show the spread."""


def print_row(row: Row) -> None:
    size, network = row.case.size, row.case.network
    print(
        f"{size:<7}{network:<11}{row.t_ref * 1e3:10.3f}{row.t_torch * 1e3:10.3f}"
        f"{row.ratio:10.2f}{'<=' + str(MAX_TIME_RATIO[size]):>8}{row.floor:7.2f}"
        f"{row.share:7.0%}{row.peak / 1e6:9.3f}{row.kept / 1e6:9.3f}{row.peak / row.kept:10.2f}"
        f"{row.diff:14.1e}"
    )


def verdicts(rows: list[Row]) -> list[tuple[str, bool]]:
    """(target, met) for each target (MAX_TIME_RATIO and the others above), on the main network's
    rows."""
    found = []
    for row in rows:
        if row.case.network != MAIN:
            continue
        size, limit = row.case.size, MAX_TIME_RATIO[row.case.size]
        found.append((f"{size}: ref time <= {limit}x torch's", row.ratio <= limit))
        if size == "large":
            found.append(
                (
                    f"{size}: >= {MIN_MATMUL_SHARE_LARGE:.0%} of the matmul rate",
                    row.share >= MIN_MATMUL_SHARE_LARGE,
                )
            )
        found.append(
            (
                f"{size}: peak <= {MAX_PEAK_OVER_KEPT}x kept",
                row.peak / row.kept <= MAX_PEAK_OVER_KEPT,
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes to run")
    args = parser.parse_args()
    repeats = QUICK_REPEATS if args.quick else REPEATS
    sizes = args.sizes.split(",")
    unknown = sorted(set(sizes) - set(SIZES))
    if unknown:
        parser.error(f"unknown sizes {unknown}; valid: {', '.join(SIZES)}")

    print(
        f"float64, CPU: torch {torch.__version__} with torch.get_num_threads() = "
        f"{torch.get_num_threads()}; numpy {np.__version__}; os.cpu_count() = {os.cpu_count()}; "
        f"OPENBLAS_NUM_THREADS = {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(f"mode: {'quick' if args.quick else 'full'}; timed calls per row: {repeats}")
    print()

    rates = matmul_rates(QUICK_MATMUL_REPEATS if args.quick else MATMUL_REPEATS)
    best_name, best_rate = max(rates, key=lambda r: r[1])
    print("float64 matrix-multiply rate, GFLOP/s (median of repeats):")
    for name, rate in rates:
        print(f"  {name:<18} {rate:7.1f}")
    print(f"  best sustained: {best_rate:.1f} ({best_name}); floor and share use it")
    print()

    print(HEADER)
    print("-" * len(HEADER))
    rows = []
    for size in sizes:
        for network in NETWORKS:
            rows.append(measure(size, network, repeats[size], best_rate))
            print_row(rows[-1])
    print()
    print(LEGEND)
    print()
    for what, met in verdicts(rows):
        print(f"{'PASS' if met else 'MISS'}  {what}")


if __name__ == "__main__":
    main()
