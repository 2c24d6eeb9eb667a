"""The gate: one gradient implementation judged on many reproducible random cases.

    verification.check(impl, cases=200, seed=0, ...) -> Report    (report.ok is True on a pass)

is the same gate as `python -m verification`. The implementation runs isolated in a child
process (verification.gate.isolation) unless it cannot be named for one (a lambda, a closure)
or in_process=True. The cases are cut into chunks (verification.gate.chunks), judged here, on
a local pool of processes (workers=N) or on any concurrent.futures.Executor (a Dask cluster's
among them); the chunks' tallies are merged in index order, the first failures in reading order
are shrunk to a smallest failing case, and everything is gathered into a Report whose memory
does not grow with the number of cases.
"""

import contextlib
import dataclasses
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from uuid import uuid4

from verification.cases import CaseOptions
from verification.gate import preload
from verification.gate.child import CHILD_ENVIRONMENT
from verification.gate.chunks import (
    CHUNK_CASES,
    ChunkResult,
    Job,
    close_callers,
    open_caller,
    run_chunk,
    shrink_failure,
)
from verification.gate.isolation import DEFAULT_MEMORY, IMPORT_FLOOR, IMPORT_TIMEOUT, Limits
from verification.gate.loading import is_own, module_file, spec_of
from verification.oracles.precision import PRECISIONS
from verification.report import Failure, Report
from verification.report.files import jsonable
from verification.report.report import Tally

SHRUNK_FAILURES = 3  # failures shrunk per run: shrinking costs up to a few seconds each
IN_FLIGHT = 256
"""Chunks sent to a pool and not yet merged, at most: enough to keep a cluster of a hundred
workers busy while one slow chunk holds up the merge; few enough (a chunk's result is about
30 KB) that the run's memory does not grow with its length."""
READY_WAIT = 0.05
"""Seconds a worker waits before answering that it is ready, so that a pool's first worker
does not take every readiness task while the others are still importing."""
DEFAULT_SPEC = "reference:gradients"
"""What the gate judges without an implementation: this project's own reference."""


def _names(value: Iterable[str] | str | None, what: str) -> tuple[str, ...] | None:
    """A list of names; a single string is one name (not its letters)."""
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _resolve(
    impl: Callable | str | None, in_process: bool
) -> tuple[str | None, Callable | None, bool, bool]:
    """(spec, callable, isolated, own) for what was asked to be judged; `own` (the report's
    label "this project's own reference") is decided here, from where the spec's module is
    found, never from what the implementation's process says."""
    if impl is None:
        return DEFAULT_SPEC, None, not in_process, True
    if isinstance(impl, str):
        return impl, None, not in_process, is_own(module_file(impl))
    if not callable(impl):
        raise TypeError(f"impl is a {type(impl).__name__}, but should be a callable or a spec")
    spec = spec_of(impl)
    own = spec is not None and is_own(module_file(spec))
    if spec is None or in_process:
        return spec, impl, False, own
    return spec, None, True, own


def check(
    impl: Callable | str | None = None,
    *,
    cases: int = 200,
    seed: int = 0,
    activations: Iterable[str] | str | None = None,
    output_activations: Iterable[str] | str | None = None,
    losses: Iterable[str] | str | None = None,
    max_depth: int = 6,
    max_width: int = 16,
    max_batch: int = 8,
    dtype: str = "float64",
    workers: int = 1,
    executor: Executor | None = None,
    case: int | None = None,
    in_process: bool = False,
    timeout: float | None = None,
    memory_limit: int = DEFAULT_MEMORY,
    max_failures: int | None = None,
    jsonl: str | Path | None = None,
    shrink_failures: int = SHRUNK_FAILURES,
    progress: Callable[[int, int, int], None] | None = None,
) -> Report:
    """Judge `impl` on `cases` random cases of the stream `seed`; see docs/contract.md,
    section 5, for the options.

    impl: a callable of the gradient contract (docs/contract.md, section 4), a
        "MODULE:FUNCTION" or "PATH/FILE.py:FUNCTION" spec, or None for this project's own
        reference. A spec, or a callable importable by its module and name, runs isolated in
        a child process; other callables (lambdas, closures, partials) run in this process,
        and the report says so.
    activations, output_activations, losses: the names the cases may use (a string is one
        name); output_activations restricts layer L apart from the hidden layers.
    case: judge case `case` of the stream alone (as a failure's reproduction does).
    dtype: "float32" judges an implementation that computes in float32 with its allowance.
    workers: processes of a local pool; executor: any concurrent.futures.Executor instead
        (e.g. a Dask client's get_executor()); the report is the same as a serial run's. Its
        workers should have run verification.gate.preload.for_judging before any run (as a
        pool's initializer, or client.run), and a process executor's workers keep their
        children until they run verification.gate.chunks.close_callers (docs/isolation.md).
    in_process: run the implementation in this process (not isolated: for debugging).
    timeout, memory_limit: the limits of one call (seconds, also of the import but never
        below IMPORT_FLOOR; bytes of resident memory).
    max_failures: stop after this many failing cases; jsonl: a file to which every failure
        is appended, as a line of JSON, as soon as it is found.
    progress: called as progress(done, total, failed) as chunks finish.
    """
    if os.environ.get(CHILD_ENVIRONMENT):
        raise RuntimeError(
            "verification.check was called inside the gate's own child process: the module "
            "that holds the implementation runs the gate when imported; put that call under "
            'if __name__ == "__main__":'
        )
    spec, callable_impl, isolated, own = _resolve(impl, in_process)
    label = getattr(impl, "__qualname__", None) if callable(impl) else None
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype {dtype!r} is unknown; valid: {', '.join(PRECISIONS)}")
    for name, value, least in (("cases", cases, 1), ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} = {value!r}, but should be an int >= {least}")
    if max_failures is not None and max_failures < 1:
        raise ValueError(f"max_failures = {max_failures}, but should be >= 1")
    default = CaseOptions()
    options = CaseOptions(
        activations=_names(activations, "activations") or default.activations,
        output_activations=_names(output_activations, "output_activations"),
        losses=_names(losses, "losses") or default.losses,
        max_depth=max_depth,
        max_width=max_width,
        max_batch=max_batch,
    )
    limits = Limits(
        timeout=timeout,
        memory=memory_limit,
        import_timeout=max(timeout, IMPORT_FLOOR) if timeout is not None else IMPORT_TIMEOUT,
    )
    job = Job(spec, seed, options, dtype, limits, isolated, callable_impl, own, label, uuid4().hex)
    if (executor is not None or workers > 1) and callable_impl is not None:
        raise ValueError(
            "workers > 1 or an executor needs an implementation importable by name (a "
            "module-level function, or a MODULE:FUNCTION spec); use workers=1 for this one"
        )
    first = case if case is not None else 0
    count = 1 if case is not None else cases
    chunks = [
        (start, min(start + CHUNK_CASES, first + count))
        for start in range(first, first + count, CHUNK_CASES)
    ]
    jsonl_file = open(Path(jsonl).resolve(), "a") if jsonl is not None else None  # noqa: SIM115
    began = time.perf_counter()
    try:
        serial = executor is None and workers == 1
        preload.for_reporting()  # before any child, here or on a worker (gate.preload)
        torch_here = one_torch_thread() if serial else contextlib.nullcontext()
        with torch_here, _pool(workers, executor, serial) as pool:
            _import(job, pool)  # ImplementationError (status 2) before any case
            job = dataclasses.replace(job, imported=True)
            tally, stopped = _run(job, chunks, pool, max_failures, progress, jsonl_file)
            _shrink_first(job, tally, shrink_failures, pool)
    finally:
        close_callers(job)  # before any report is written: the child ends here
        if jsonl_file is not None:
            jsonl_file.close()
    return Report.from_tally(
        tally,
        impl=spec or repr(impl),
        seed=seed,
        seconds=time.perf_counter() - began,
        isolated=isolated,
        own=own,
        stopped=stopped,
    )


def _run(
    job: Job,
    chunks: list[tuple[int, int]],
    pool: Executor | None,
    max_failures: int | None,
    progress: Callable[[int, int, int], None] | None,
    jsonl: IO[str] | None,
) -> tuple[Tally, str | None]:
    """Judge every chunk, here (pool None) or on the pool, and merge them in index order (a
    chunk that finishes early waits for those before it), so that the failures streamed to
    `jsonl` come in index order and a run stopped by max_failures ends at the same failure as
    a serial run. Returns the tally and why it stopped early (or None)."""
    total = sum(stop - start for start, stop in chunks)
    tally = Tally(first_index=chunks[0][0])
    done = 0

    def take(result: ChunkResult) -> bool:
        """Merge the next chunk by index; True once the run has max_failures failures."""
        nonlocal done
        left = None if max_failures is None else max_failures - tally.failed
        part = result.tally(left)
        tally.merge(part)
        done += len(part.outcomes)
        if jsonl is not None:
            for failure in part.failures:
                jsonl.write(json.dumps(jsonable(failure.to_dict()), allow_nan=False) + "\n")
            jsonl.flush()
        if progress is not None:
            progress(done, total, tally.failed)
        return left is not None and part.failed >= left

    def stop_note() -> str:
        return f"after {tally.failed} failing cases (--max-failures {max_failures})"

    if pool is None:
        for start, stop in chunks:
            left = None if max_failures is None else max_failures - tally.failed
            if take(run_chunk(job, start, stop, left)):
                return tally, stop_note()
        return tally, None
    # A window of chunks in flight: a chunk is sent when one is merged, so that the results
    # held here (sent, finished or waiting for an earlier chunk) never exceed IN_FLIGHT
    # chunks, however many the run has: the run's memory stays flat.
    sent: dict[Future, int] = {}
    waiting: dict[int, ChunkResult] = {}
    to_send = iter(chunks)
    order = iter(chunks)
    next_start = next(order)[0]

    def send() -> None:
        while len(sent) + len(waiting) < IN_FLIGHT and (chunk := next(to_send, None)):
            sent[pool.submit(run_chunk, job, *chunk, max_failures)] = chunk[0]

    try:
        send()
        while sent:
            finished, _ = wait(sent, return_when=FIRST_COMPLETED)
            for future in finished:
                waiting[sent.pop(future)] = future.result()
            while next_start in waiting:
                if take(waiting.pop(next_start)):
                    return tally, stop_note()
                next_start = next(order, (None, None))[0]
            send()
        return tally, None
    finally:  # stopped early, or a chunk raised: what is still out is not needed
        for other in sent:
            other.cancel()


def _shrink_first(job: Job, tally: Tally, count: int, pool: Executor | None) -> None:
    """Put the kept failures in reading order (the most readable first: judge.signature) and
    replace the first `count` by their shrunk versions, shrunk here (pool None) or on the
    pool."""
    tally.failures.sort(key=lambda f: f.readability)
    indices = [f.case["index"] for f in tally.failures[:count]]
    if not indices:
        return
    if pool is None:
        shrunk = [shrink_failure(job, index) for index in indices]
    else:
        shrunk = list(pool.map(shrink_failure, [job] * len(indices), indices))
    replaced: dict[int, Failure] = {
        index: failure for index, failure in zip(indices, shrunk, strict=True) if failure
    }
    tally.failures = [replaced.get(f.case["index"], f) for f in tally.failures]


def _import(job: Job, pool: Executor | None) -> None:
    """Start the job's caller here (pool None) or on one of the pool's workers: the
    implementation is imported, and an ImplementationError raised, before any case."""
    if pool is None:
        open_caller(job)
    else:
        pool.submit(open_caller, job).result()


@contextmanager
def _pool(workers: int, executor: Executor | None, serial: bool) -> Iterator[Executor | None]:
    """None for a serial run, the executor given, or a local pool of `workers` processes."""
    if serial:
        yield None
        return
    if executor is not None:
        yield executor
        return
    context = multiprocessing.get_context("spawn")  # fork after torch has threads can hang
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        _ready(pool, workers)
        yield pool


def _ready(pool: Executor, workers: int) -> None:
    """Wait until each of the pool's `workers` processes has started and imported what it
    needs (_worker_init), so that none reads a module after a child has started
    (gate.preload). A pool starts a process for each task sent while none is idle."""
    seen: set[int] = set()
    while len(seen) < workers:
        seen.update(pid for pid in pool.map(_worker_pid, [READY_WAIT] * workers))


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Cases are tiny: torch's thread pool costs ~10x more than the work (0.9 ms per mirror
    call on one thread against 9.4 ms on two, measured on this project's 2-core machines)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _worker_init() -> None:
    preload.for_judging()
    import torch

    torch.set_num_threads(1)


def _worker_pid(wait: float) -> int:
    """This worker's process id, after a short wait that lets the others take their turn."""
    time.sleep(wait)
    return os.getpid()
