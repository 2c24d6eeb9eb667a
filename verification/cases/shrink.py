"""Shrinking a failing case to a smallest one that still fails.

Greedy, in the order a reader cares about: fewest layers, then narrowest widths, then smallest
batch. Each candidate is cut out of the failing case (rows of x, columns of W, whole hidden
layers), so its numbers are the failing case's own wherever they still fit.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from reference import Architecture
from verification.cases import Case

MAX_TRIES = 150  # candidates judged per shrink at most
MAX_SECONDS = 3.0  # wall time per shrink at most; the failing case itself is always reported


def _fit(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`a` cut or zero-padded to `shape` (top-left corner kept)."""
    out = np.zeros(shape, dtype=a.dtype)
    region = tuple(slice(0, min(m, k)) for m, k in zip(a.shape, shape, strict=True))
    out[region] = a[region]
    return out


def _targets(y: np.ndarray, loss: str, width: int) -> np.ndarray:
    if loss == "cross_entropy":
        return y % width  # labels must stay in [0, n_L)
    return _fit(y, (y.shape[0], width))


def _rebuild(case: Case, sizes: tuple[int, ...], activations: tuple[str, ...], keep: list[int]):
    """A case with these sizes, layer k of the new network cut from layer keep[k] of the old."""
    arch = Architecture(sizes=sizes, activations=activations, loss=case.arch.loss)
    params = [
        (_fit(case.params[old - 1][0], (m, n)), _fit(case.params[old - 1][1], (n,)))
        for old, m, n in zip(keep, sizes, sizes[1:], strict=False)
    ]
    x = _fit(case.x, (case.n, sizes[0]))
    y = _targets(case.y, case.arch.loss, sizes[-1])
    return replace(case, arch=arch, params=params, x=x, y=y, seed=None, index=None)


def _fewer_layers(case: Case) -> Iterator[Case]:
    sizes, acts = case.arch.sizes, case.arch.activations
    for l in range(1, case.arch.L):  # drop hidden layer l (its output width n_l goes too)
        keep = [k for k in range(1, case.arch.L + 1) if k != l]
        yield _rebuild(case, sizes[:l] + sizes[l + 1 :], acts[: l - 1] + acts[l:], keep)


def _narrower(case: Case) -> Iterator[Case]:
    sizes = case.arch.sizes
    for i, width in enumerate(sizes):
        for narrower in sorted({1, width // 2}):
            if 1 <= narrower < width:
                new = (*sizes[:i], narrower, *sizes[i + 1 :])
                yield _rebuild(case, new, case.arch.activations, list(range(1, case.arch.L + 1)))


def _smaller_batches(case: Case) -> Iterator[Case]:
    n = case.n
    subsets = [[i] for i in range(n)] if n <= 4 else [list(range(n // 2)), [0], [n - 1]]
    subsets += [[j for j in range(n) if j != i] for i in range(n)] if 1 < n <= 8 else []
    for rows in subsets:
        if 0 < len(rows) < n:
            yield replace(case, x=case.x[rows], y=case.y[rows], seed=None, index=None)


def shrink(case: Case, fails: Callable[[Case], bool]) -> Case:
    """The smallest case found that still fails, starting from the failing `case`."""
    deadline = time.monotonic() + MAX_SECONDS
    tries = 0
    progress = True
    while progress:
        progress = False
        for candidates in (_fewer_layers, _narrower, _smaller_batches):
            for candidate in candidates(case):
                if tries >= MAX_TRIES or time.monotonic() > deadline:
                    return case
                tries += 1
                if fails(candidate):
                    case, progress = candidate, True
                    break
            if progress:
                break
    return case
