"""The gate: one gradient implementation judged on many reproducible random cases.

    verification.check(impl, cases=200, seed=0, ...) -> Report    (report.ok is True on a pass)

is the same gate as `python -m verification`. Cases come from verification.cases (case i of a
stream is drawn from (seed, i) alone), each is judged by verification.judge, the first few
failures are shrunk to a smallest failing case, and everything is gathered into a Report.
"""

import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import reference
from verification.cases import Case, CaseOptions, draw_case
from verification.cases.options import as_names
from verification.cases.shrink import shrink
from verification.gate.loading import load_implementation, spec_of
from verification.judge import Verdict, judge
from verification.judge.signature import SameFailure, readability
from verification.oracles.consult import Oracles
from verification.oracles.precision import PRECISIONS
from verification.report import Failure, Report, failure_from

SHRUNK_FAILURES = 3  # failures shrunk per run: shrinking costs up to a few seconds each
REFERENCE_SPEC = "reference:gradients"


def _spec_of(impl: Callable | str | None) -> tuple[Callable, str | None]:
    """The callable to judge and, when it can be named, the spec that reproduces it."""
    if impl is None:
        return reference.gradients, REFERENCE_SPEC
    if isinstance(impl, str):
        return load_implementation(impl), impl
    if not callable(impl):
        raise TypeError(f"impl is a {type(impl).__name__}, but should be a callable or a spec")
    return impl, spec_of(impl)


def _judge_indices(
    spec: str | None,
    impl: Callable | None,
    indices: Sequence[int],
    seed: int,
    options: CaseOptions,
    dtype: str,
) -> list[Verdict]:
    if impl is None:  # in a worker process: load the implementation from its spec
        impl = load_implementation(spec)
    verdicts = []
    for index in indices:
        case = draw_case(seed, index, options)
        verdicts.append(judge(impl, case, Oracles.of(case, dtype), dtype))
    return verdicts


@contextmanager
def _one_torch_thread() -> Iterator[None]:
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
    import torch

    torch.set_num_threads(1)


def _run_parallel(
    spec: str,
    indices: list[int],
    seed: int,
    options: CaseOptions,
    dtype: str,
    workers: int,
    progress: Callable[[int], None],
) -> list[Verdict]:
    chunk = max(1, min(25, len(indices) // (4 * workers) or 1))
    chunks = [indices[i : i + chunk] for i in range(0, len(indices), chunk)]
    context = multiprocessing.get_context("spawn")  # fork after torch has threads can hang
    verdicts: list[Verdict] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        futures = [
            pool.submit(_judge_indices, spec, None, part, seed, options, dtype) for part in chunks
        ]
        for future in futures:  # in submission order: the same report as a serial run
            part = future.result()
            verdicts.extend(part)
            progress(len(part))
    return verdicts


def check(
    impl: Callable | str | None = None,
    *,
    cases: int = 200,
    seed: int = 0,
    activations: Iterable[str] | None = None,
    losses: Iterable[str] | None = None,
    max_depth: int = 6,
    max_width: int = 16,
    max_batch: int = 8,
    dtype: str = "float64",
    workers: int = 1,
    case: int | None = None,
    shrink_failures: int = SHRUNK_FAILURES,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Judge `impl` (a callable of docs/contract.md, section 4, a "MODULE:FUNCTION" or
    "PATH/FILE.py:FUNCTION" spec, or None for the reference) on `cases` random cases.

    `case=i` judges case i of the stream alone (as a failure's reproduction does). `dtype`
    "float32" judges an implementation that computes in float32 with float32's allowance.
    `workers` > 1 spreads the cases over processes, with the same report as a serial run.
    The first `shrink_failures` failed cases are shrunk to a smallest failing case.
    """
    impl, spec = _spec_of(impl)
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype {dtype!r} is unknown; valid: {', '.join(PRECISIONS)}")
    if cases < 1:
        raise ValueError(f"cases = {cases}, but should be >= 1")
    if workers < 1:
        raise ValueError(f"workers = {workers}, but should be >= 1")
    options = CaseOptions(
        activations=as_names(activations, CaseOptions().activations),
        losses=as_names(losses, CaseOptions().losses),
        max_depth=max_depth,
        max_width=max_width,
        max_batch=max_batch,
    )
    indices = [case] if case is not None else list(range(cases))
    done = 0

    def advance(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, len(indices))

    start = time.perf_counter()
    with _one_torch_thread():
        verdicts = _run(impl, spec, indices, seed, options, dtype, workers, advance)
        failures = _failures(impl, spec, verdicts, options, dtype, shrink_failures)
    return Report.gather(
        impl=spec or repr(impl),
        seed=seed,
        verdicts=verdicts,
        failures=failures,
        seconds=time.perf_counter() - start,
    )


def _run(
    impl: Callable,
    spec: str | None,
    indices: list[int],
    seed: int,
    options: CaseOptions,
    dtype: str,
    workers: int,
    advance: Callable[[int], None],
) -> list[Verdict]:
    if workers > 1 and len(indices) > 1:
        if spec is None:
            raise ValueError(
                "workers > 1 needs an implementation importable by name (a module-level "
                "function, or a MODULE:FUNCTION spec); use workers=1 for this one"
            )
        return _run_parallel(spec, indices, seed, options, dtype, workers, advance)
    verdicts = []
    for index in indices:
        verdicts += _judge_indices(spec, impl, [index], seed, options, dtype)
        advance(1)
    return verdicts


def _failures(
    impl: Callable,
    spec: str | None,
    verdicts: list[Verdict],
    options: CaseOptions,
    dtype: str,
    shrink_failures: int,
) -> list[Failure]:
    def judged(candidate: Case) -> Verdict:
        return judge(impl, candidate, Oracles.of(candidate, dtype), dtype)

    failures = []
    # the most readable first (judge.signature.readability): it is printed and shrunk first
    for verdict in sorted((v for v in verdicts if not v.passed), key=readability):
        smallest = None
        if len(failures) < shrink_failures:
            fails = SameFailure(verdict, judged)  # a candidate must fail the same way
            shrink(verdict.case, fails)
            smallest = fails.last
        failures.append(failure_from(verdict, spec, options, dtype, smallest, impl))
    return failures
