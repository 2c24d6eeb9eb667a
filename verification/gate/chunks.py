"""A chunk of cases, judged where it runs: in the gate's process, a pool worker or a cluster.

A run is cut into chunks of consecutive case indices, the same cut whatever runs them. A chunk
is sent as a Job (the implementation's spec, the stream's seed and options, the dtype, the
limits) and an index range; the cases are drawn, the implementation called (isolated in a child
process of whichever process runs the chunk), the oracles consulted and the verdicts judged
there; what comes back is a ChunkResult: what a tally counts of each case, and the failures as
Failure records, never arrays of the oracles. The gate's process merges the results in index
order, so the report does not depend on where, or in which order, the chunks ran (nor does
a run stopped by max_failures: it ends at the same failure as a serial run).

Each process keeps one caller per job (one child process), reused from chunk to chunk; an
implementation whose results depend on its earlier calls fails either way (the determinism
check), but which of its cases fail first may then depend on how the chunks were spread.
"""

import atexit
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from verification.cases import Case, CaseOptions, draw_case
from verification.cases.shrink import shrink
from verification.gate import preload
from verification.gate.isolation import DEFAULT_MEMORY, Isolated, Limits
from verification.gate.loading import load_implementation
from verification.judge import Caller, InProcess, Verdict, judge
from verification.judge.signature import SameFailure
from verification.report import Failure, failure_from
from verification.report.failure import RunOptions
from verification.report.report import Judged, Tally

CHUNK_CASES = 50
"""Cases per chunk: enough to amortise sending a chunk to a cluster worker (a few ms), few
enough that 2,000 cases keep two workers busy to the end."""


@dataclass(frozen=True)
class Job:
    """Everything a process needs to judge cases of a run, and nothing that is not plain data
    (so that it pickles to any executor): `spec` names the implementation, or `impl` is the
    callable itself (in-process runs only)."""

    spec: str | None
    seed: int
    options: CaseOptions
    dtype: str
    limits: Limits
    isolated: bool
    impl: Callable | None = None
    own: bool = False  # the spec names this project's own reference (gate.loading.module_file)
    label: str | None = None  # the name a Python reproduction calls the implementation by
    run: str = ""  # the run's own id: a later run imports the implementation afresh
    imported: bool = False  # the run has imported it once: a child that cannot is a crash

    def named(self) -> object:
        """What a failure's Python reproduction names the implementation by: the callable, or
        (run isolated from a callable) a stand-in holding its name, or None for a spec."""
        if self.impl is not None:
            return self.impl
        return SimpleNamespace(__qualname__=self.label) if self.label else None

    def repeated(self) -> RunOptions:
        """What a failure's reproduction repeats of this run beyond its cases: the limits that
        were set, and in_process for an implementation named by a spec but run in-process."""
        repeated: list[tuple[str, object]] = []
        if self.limits.timeout is not None:
            repeated.append(("timeout", self.limits.timeout))
        if self.limits.memory != DEFAULT_MEMORY:
            repeated.append(("memory_limit", self.limits.memory))
        if self.spec is not None and not self.isolated:
            repeated.append(("in_process", True))
        return tuple(repeated)

    def key(self) -> tuple:
        """This job's caller in this thread: a cluster worker may run chunks in threads, and a
        child process serves one caller at a time. The run's id is part of it, so that a run
        never reuses a child of an earlier one (which imported the file as it was then)."""
        return (
            self.run,
            self.spec,
            id(self.impl),
            self.isolated,
            self.limits,
            threading.get_ident(),
        )


@dataclass
class ChunkResult:
    """What judging a chunk of cases found, case by case from index `start` (at most
    CHUNK_CASES records, so that a run stopped at its K-th failure can cut the chunk there:
    tally()), and how long it took."""

    start: int
    judged: list[Judged]
    seconds: float = 0.0

    def tally(self, max_failures: int | None = None) -> Tally:
        """The chunk's tally, up to and including its max_failures-th failure if given."""
        return Tally.of(self.start, self.judged, max_failures)


_CALLERS: dict[tuple, Caller] = {}


def caller_for(job: Job) -> Caller:
    """This process's caller for the job: one child process (or the callable itself), made on
    first use and closed when the process exits."""
    key = job.key()
    if key not in _CALLERS:
        preload.for_judging()  # before the child: nothing imported later can be planted
        if job.isolated:
            _CALLERS[key] = Isolated(job.spec, job.limits, job.own, start=not job.imported)  # type: ignore[arg-type]
        else:
            impl = job.impl
            if impl is None:
                impl = load_implementation(job.spec, isolated=False, own=job.own)  # type: ignore[arg-type]
            _CALLERS[key] = InProcess(impl)
    return _CALLERS[key]


def open_caller(job: Job) -> None:
    """Make this process's caller for the job (the implementation is imported now: an
    ImplementationError says why it cannot be)."""
    caller_for(job)


def close_callers(job: Job | None = None) -> None:
    """Close the callers of `job` in this process, whichever thread made them, or every caller
    (their children end)."""
    keys = [k for k in list(_CALLERS) if job is None or k[:-1] == job.key()[:-1]]
    for key in keys:
        caller = _CALLERS.pop(key, None)
        if caller is not None:
            caller.close()


atexit.register(close_callers)


def run_chunk(job: Job, start: int, stop: int, max_failures: int | None = None) -> ChunkResult:
    """Judge cases start..stop-1 of the job's stream, here; stop after `max_failures` failing
    cases (the result then covers the cases judged)."""
    began = time.perf_counter()
    caller = caller_for(job)
    judged, failed = [], 0
    for index in range(start, stop):
        case = draw_case(job.seed, index, job.options)
        verdict = judge(caller, case, job.dtype)
        failure = None
        if not verdict.passed:
            failure = failure_from(
                verdict, job.spec, job.options, job.dtype, None, job.named(), job.repeated()
            )
            failed += 1
        judged.append(Judged.of(case, verdict.passed, verdict.skipped, verdict.untrusted, failure))
        if max_failures is not None and failed >= max_failures:
            break
    return ChunkResult(start, judged, time.perf_counter() - began)


def shrink_failure(job: Job, index: int) -> Failure | None:
    """The failure of case `index`, with the smallest case found that still fails the same
    way; None if the case passes when judged again (an implementation that changes from call
    to call)."""
    caller = caller_for(job)
    case = draw_case(job.seed, index, job.options)
    verdict = judge(caller, case, job.dtype)
    if verdict.passed:
        return None
    fails = SameFailure(verdict, lambda candidate: judge(caller, candidate, job.dtype))
    shrink(case, fails)  # a candidate must fail the same way (judge.signature)
    return failure_from(
        verdict, job.spec, job.options, job.dtype, fails.last, job.named(), job.repeated()
    )


def judge_one(job: Job, case: Case) -> Verdict:
    """One case judged with this process's caller for the job (shrinking, tests)."""
    return judge(caller_for(job), case, job.dtype)
