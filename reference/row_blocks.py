"""Elementwise work on an (n, width) array, done in blocks of rows.

phi(z^l) and the product by phi'(z^l) are elementwise, so they give the same values whether
done at once or a block of rows at a time; by blocks, each block's temporaries stay in cache and
no full-size temporary is held. On large arrays the blocks run in parallel threads, since
NumPy's ufuncs release the GIL (benchmarks/bench_backprop.py measures the gain).
"""

import contextvars
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from reference.types import Array

ROW_BLOCK_ENTRIES = 2**16
"""Entries per block of rows (512 KiB of float64): a block and its temporaries fit in L2 cache."""

PARALLEL_MIN_ENTRIES = 2**18
"""Arrays with fewer entries are done in the calling thread: waking a worker thread costs up to
about a millisecond on a virtual machine, more than it saves on ~3 ms of tanh at this size."""

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


def usable_cores() -> int:
    """The number of cores this process may run on: its CPU affinity where the platform has
    one (a container may allow fewer cores than the machine has), else os.cpu_count(), else 1."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _workers() -> ThreadPoolExecutor:
    """One thread per usable core, made on first need (and anew after a fork)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool, _pool_pid = ThreadPoolExecutor(max_workers=usable_cores()), os.getpid()
    return _pool


def each_row_block(step: Callable[[slice], None], a: Array) -> None:
    """Call step(rows) on consecutive blocks of rows that together cover a (n, width).

    In parallel threads when a is large, each with a copy of the caller's context, so that an
    np.errstate the caller set holds there too. step must only touch its own rows.
    """
    if a.size <= ROW_BLOCK_ENTRIES:
        step(slice(None))
        return
    n, width = a.shape
    rows_per_block = max(1, ROW_BLOCK_ENTRIES // width)
    blocks = [slice(i, i + rows_per_block) for i in range(0, n, rows_per_block)]
    if a.size < PARALLEL_MIN_ENTRIES:
        for rows in blocks:
            step(rows)
        return
    pool = _workers()
    for done in [pool.submit(contextvars.copy_context().run, step, rows) for rows in blocks]:
        done.result()  # re-raises an exception from its block
