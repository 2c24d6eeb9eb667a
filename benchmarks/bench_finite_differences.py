"""How fast and how accurate is a finite-difference check of every parameter, against gradcheck?

Two questions about the finite-difference oracle, measured side by side in one run, float64
on the CPU:

1. At about 7,000 parameters (batch 8, sizes 32-64-64-8, tanh hidden, identity output,
   cross_entropy): verification.oracles.finite_differences against torch.autograd.gradcheck with
   fast_mode=False on the same network. gradcheck perturbs every parameter with eps = 1e-6 and
   builds the numerical and the analytical Jacobian; its numerical gradient (the same code,
   torch.autograd.gradcheck._get_numerical_jacobian, untimed) gives its accuracy. Target: the
   finite-difference check of every parameter at least 20x faster, with comparable accuracy.
2. At about 100,000 parameters (batch 16, sizes 256-256-128-10, same activations and loss): a
   full check of every parameter in under 5 s, by central differences with Richardson and by
   the complex step.

Each row reports the median time, the largest |estimate - reference.gradients| over all
parameters, and the largest error estimate. Rows with perturb="parameters" step each W^l_ij
and b^l_j; perturb="units" steps each z^l_ij and applies dE/dW^l = (h^{l-1})^T delta^l.

    python benchmarks/bench_finite_differences.py           # the full run, about two minutes
    python benchmarks/bench_finite_differences.py --quick   # no gradcheck, no slow rows

Timings on a shared machine are noisy: rerun before trusting a close call.
"""

import argparse
import importlib
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import reference
from verification.oracles import finite_differences as fd

SMALL = (8, (32, 64, 64, 8))  # (batch n, sizes n_0..n_L): about 7,000 parameters
LARGE = (16, (256, 256, 128, 10))  # about 100,000 parameters
HIDDEN, OUTPUT, LOSS = "tanh", "identity", "cross_entropy"

MIN_SPEEDUP = 20.0  # the target: 20 times faster than gradcheck at SMALL
MAX_SECONDS_LARGE = 5.0  # the target: a full check at LARGE within 5 s
GRADCHECK_EPS = 1e-6  # gradcheck's default step

REPEATS = 5  # timed calls per row; the time is their median
SLOW_REPEATS = 1  # gradcheck (~30 s a call) and the per-parameter rows at LARGE


def case(n: int, sizes: tuple[int, ...], seed: int = 0):
    rng = np.random.default_rng(seed)
    activations = (HIDDEN,) * (len(sizes) - 2) + (OUTPUT,)
    arch = reference.Architecture(sizes=sizes, activations=activations, loss=LOSS)
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in reference.init_params(arch, rng)]
    x = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return arch, params, x, y


def median_time(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def flat(pairs) -> np.ndarray:
    return np.concatenate([np.asarray(a).ravel() for pair in pairs for a in pair])


def torch_error_function(arch, params, x, y):
    """E(W^1, b^1, ..., W^L, b^L) in torch, and its float64 leaf tensors, for gradcheck."""
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    leaves = [torch.tensor(a, requires_grad=True) for pair in params for a in pair]

    def E(*theta):
        h = x_t
        for l in range(1, arch.L + 1):
            W, b = theta[2 * (l - 1)], theta[2 * (l - 1) + 1]  # layer l's (W, b)
            z = h @ W + b
            h = torch.tanh(z) if arch.activations[l - 1] == "tanh" else z
        return torch.nn.functional.cross_entropy(h, y_t, reduction="mean")

    return E, leaves


def gradcheck_rows(arch, params, x, y, truth: np.ndarray, repeats: int) -> list[tuple]:
    E, leaves = torch_error_function(arch, params, x, y)
    seconds, ok = median_time(
        lambda: torch.autograd.gradcheck(E, leaves, eps=GRADCHECK_EPS, fast_mode=False), repeats
    )
    # gradcheck's own numerical Jacobian (a private function of its module), untimed
    gradcheck_module = importlib.import_module("torch.autograd.gradcheck")
    numerical = gradcheck_module._get_numerical_jacobian(E, leaves, eps=GRADCHECK_EPS)
    estimate = np.concatenate([j[0].numpy().ravel() for j in numerical])
    return [("gradcheck(fast_mode=False)", "", seconds, np.abs(estimate - truth).max(), None, ok)]


def oracle_rows(arch, params, x, y, truth, settings) -> list[tuple]:
    rows = []
    for name, function, perturb, repeats in settings:
        seconds, estimate = median_time(
            lambda f=function, p=perturb: f(arch, params, x, y, perturb=p), repeats
        )
        error = np.abs(flat(estimate.grads) - truth)
        honest = bool((error <= flat(estimate.error)).all())
        rows.append((name, perturb, seconds, error.max(), flat(estimate.error).max(), honest))
    return rows


def print_table(title: str, rows: list[tuple], parameters: int) -> None:
    print(f"\n{title}: {parameters} parameters")
    print(f"{'method':28} {'perturb':10} {'median s':>9} {'max |err|':>10} {'max est.':>10} ok")
    for name, perturb, seconds, worst, estimated, ok in rows:
        estimated = "" if estimated is None else f"{estimated:10.2e}"
        print(f"{name:28} {perturb:10} {seconds:9.4f} {worst:10.2e} {estimated:>10} {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip gradcheck and slow rows")
    args = parser.parse_args()
    slow = 0 if args.quick else SLOW_REPEATS
    verdicts = []

    arch, params, x, y = case(*SMALL)
    truth = flat(reference.gradients(arch, params, x, y))
    settings = [
        ("central+richardson", fd.central_differences, "parameters", REPEATS),
        ("complex-step", fd.complex_step, "parameters", REPEATS),
        ("central+richardson", fd.central_differences, "units", REPEATS),
        ("complex-step", fd.complex_step, "units", REPEATS),
    ]
    rows = oracle_rows(arch, params, x, y, truth, settings)
    if slow:
        rows += gradcheck_rows(arch, params, x, y, truth, slow)
    print_table(f"batch {SMALL[0]}, sizes {SMALL[1]}", rows, truth.size)
    if slow:
        gradcheck_seconds = rows[-1][2]
        speedup = gradcheck_seconds / rows[0][2]
        verdicts.append(
            (
                f"central+richardson per parameter vs gradcheck: {speedup:.0f}x faster "
                f"(target >= {MIN_SPEEDUP:.0f}x)",
                speedup >= MIN_SPEEDUP,
            )
        )

    arch, params, x, y = case(*LARGE)
    truth = flat(reference.gradients(arch, params, x, y))
    settings = [
        ("central+richardson", fd.central_differences, "units", REPEATS),
        ("complex-step", fd.complex_step, "units", REPEATS),
    ]
    if slow:
        settings += [
            ("central+richardson", fd.central_differences, "parameters", slow),
            ("complex-step", fd.complex_step, "parameters", slow),
        ]
    rows = oracle_rows(arch, params, x, y, truth, settings)
    print_table(f"batch {LARGE[0]}, sizes {LARGE[1]}", rows, truth.size)
    for name, perturb, seconds, *_ in rows:
        verdicts.append(
            (
                f"{name} ({perturb}) at {truth.size} parameters: {seconds:.2f} s "
                f"(target < {MAX_SECONDS_LARGE:.0f} s)",
                seconds < MAX_SECONDS_LARGE,
            )
        )

    print()
    for text, met in verdicts:
        print(f"{'PASS' if met else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
