"""Judging result files against vectors, as the gate judges a Python implementation.

`check_results(VECTORS, RESULTS)` reads RESULTS/case-IIII.json for every vector file and
judges it: the file and its layout (missing, malformed), then the gate's own checks on the
structure and finite values (verification.judge.call) and on every value
(verification.judge.values, against the vector's exact gradients within A(implementation)
plus one ULP of the vector's value: export.accepted_difference), then the diagnosis of what it
found (verification.judge.conclude, as for the gate). The report is the gate's, under a header
of its own.
"""

import shlex
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from verification.cases import Case, CaseOptions
from verification.judge import Finding, Verdict, conclude
from verification.judge.call import check_structure, expected_shapes, find_non_finite
from verification.judge.returned import describe, max_entries
from verification.judge.values import Witness, judge_values
from verification.oracles.precision import PRECISIONS
from verification.oracles.tolerance import allowance
from verification.report import Failure, Report, failure_from
from verification.report.failure import printable
from verification.vectors.export import SCHEMA_VERSION, accepted_difference
from verification.vectors.load import Vector, VectorError, load_vectors
from verification.vectors.safe_json import (
    MISSING,
    UnreadableJSONError,
    entries,
    json_type,
    numbers,
    read_json,
)

RESULT_BYTES_FLOOR = 16 * 2**20  # parsing 16 MiB of numbers takes ~180 MB of memory at worst
RESULT_SIZE_FACTOR = 4  # a result may repeat its vector whole and add its gradients, in 4x
ORACLE = "the vector's exact value"  # what a mismatch is against, in its message


def _malformed(message: str, layer: int | None = None, param: str | None = None) -> Finding:
    return Finding("malformed", message, layer, param)


def result_gradients(document: object, case: Case) -> tuple[list | None, Finding | None]:
    """The gradients of a result document as [(dW, db) for l = 1..L], float64 arrays with NaN
    for null; or a finding saying why they cannot be read. Values quoted from the document in
    a message are cut to 40 characters.

    The shapes are not checked here, but by the gate's structure check (verification.judge).
    """
    if not isinstance(document, dict):
        return None, _malformed(
            f"the result holds {json_type(document)}, but should hold an object "
            '{"layers": [{"grad_W": ..., "grad_b": ...}, ...]}'
        )
    version = document.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        return None, _malformed(
            f"the result has schema_version {version!r:.40}, but these vectors are version "
            f"{SCHEMA_VERSION}"
        )
    about = document.get("case", {})
    if isinstance(about, dict):
        for key in ("seed", "index"):
            if about.get(key, getattr(case, key)) != getattr(case, key):
                return None, _malformed(
                    f"the result is for case {key} {about.get(key)!r:.40}, but its vector has "
                    f"{key} {getattr(case, key)}: a result written for another case?"
                )
    layers = document.get("layers", MISSING)
    if not isinstance(layers, list):
        what = "no 'layers'" if layers is MISSING else f"'layers' as {json_type(layers)}"
        return None, _malformed(
            f"the result has {what}, but should have an array of L = {case.L} objects "
            '{"grad_W": ..., "grad_b": ...}, layer l at index l - 1'
        )
    grads, problems = [], []
    for l, layer in enumerate(layers, start=1):  # layer l is layers[l - 1]
        if not isinstance(layer, dict):
            problems.append(
                _malformed(f"layer {l} is {json_type(layer)}, but should be an object", l)
            )
            continue
        if layer.get("layer", l) != l:
            problems.append(
                _malformed(
                    f"layers[{l - 1}] says layer {layer['layer']!r:.40}, but should be layer {l} "
                    "(layer l at index l - 1)",
                    l,
                )
            )
            continue
        pair = []
        for param in "Wb":
            key = f"grad_{param}"
            if key not in layer:
                problems.append(_malformed(f"layer {l} has no {key!r}", l, param))
                continue
            try:
                pair.append(numbers(layer[key], f"layer {l}: {key}", null=True))
            except ValueError as exc:
                problems.append(_malformed(str(exc), l, param))
        grads.append(tuple(pair))
    if problems:  # the highest layer first: backprop makes layer L first
        return None, max(problems, key=lambda f: f.layer or 0)
    return grads, None


_NULL_NOTE = "; null in a result stands for NaN or Infinity (JSON.stringify writes them as null)"


def judge_result(vector: Vector, path: Path, dtype: str = "float64") -> Verdict:
    """The gate's checks on the gradients in `path` against `vector`: the file, its layout,
    the structure and finite values (verification.judge), then every entry within its
    accepted difference (export.accepted_difference) of the vector's exact gradients."""
    case = vector.case
    if not path.exists():
        return Verdict(case, (Finding("missing", f"no result file {str(path)!r}"),))
    if not path.is_file():  # a directory, a pipe or a device is never opened
        return Verdict(case, (_malformed(f"{str(path)!r} is not a regular file"),))
    limit = max(RESULT_BYTES_FLOOR, RESULT_SIZE_FACTOR * vector.size)
    try:
        document = read_json(path, limit)
    except UnreadableJSONError as exc:
        return Verdict(case, (_malformed(f"{str(path)!r} {exc}"),))
    grads, malformed = result_gradients(document, case)
    if malformed is not None:
        return Verdict(case, (malformed,))
    returned = describe(grads, expected_shapes(case), max_entries(case.n, case.arch.sizes))
    arrays, malformed = check_structure(returned, case, dtype)
    if malformed is not None:
        return conclude(case, [malformed], returned, dtype)
    non_finite = find_non_finite(arrays)
    if non_finite is not None:
        nulls = any(v is None for layer in document["layers"] for v in _leaves(layer))
        note = _NULL_NOTE if nulls else ""
        return conclude(
            case, [replace(non_finite, message=non_finite.message + note)], returned, dtype
        )
    allowed = allowance(case.arch, case.params, case.x, case.y, dtype=dtype)
    witness = Witness(
        ORACLE,
        vector.grads,
        [
            (accepted_difference(g_W, A_W), accepted_difference(g_b, A_b))
            for (g_W, g_b), (A_W, A_b) in zip(vector.grads, allowed, strict=True)
        ],
    )
    found = judge_values(arrays, case, [witness])
    return conclude(case, [] if found is None else [found], returned, dtype)


def _leaves(layer: dict):
    """The entries of a layer's grad_W and grad_b (already known to be arrays of numbers)."""
    for key in ("grad_W", "grad_b"):
        yield from entries(layer[key], key)[1]


@dataclass(frozen=True)
class VectorsReport:
    """The gate's report on results judged against vectors (`report`), the directory of the
    vectors, and the result files that match no vector. `ok` is True when every case passed
    and no result is left over."""

    report: Report
    vectors: str
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.extra

    @property
    def seconds(self) -> float:
        return self.report.seconds

    def summary(self) -> str:
        """A header of this command's own, then the gate report's body."""
        r = self.report
        rate = r.cases / r.seconds if r.seconds > 0 else float("inf")
        verdict = f"{'PASSED' if self.ok else 'FAILED'}: {r.passed} of {r.cases} cases passed"
        if self.extra:
            more = ", ..." if len(self.extra) > 10 else ""
            verdict += (
                f"; {len(self.extra)} result files match no vector: "
                f"{printable(', '.join(self.extra[:10]))}{more}"
            )
        header = [
            f"backprop-gate vectors: results in {printable(r.impl)} against the vectors in "
            f"{printable(self.vectors)}, {r.cases} cases in {r.seconds:.1f} s "
            f"({rate:.3g} cases/s)",
            verdict,
        ]
        return "\n".join(header + r.body_lines())

    def to_dict(self) -> dict:
        return {
            **self.report.to_dict(),
            "ok": self.ok,
            "vectors": self.vectors,
            "extra": self.extra,
        }

    def junit_cases(self) -> list[tuple[str, Failure | None]]:
        return self.report.junit_cases()


def _reproduction(vectors: Path, results: Path, index: int, dtype: str) -> str:
    words = ["python", "-m", "verification", "vectors", "check", str(vectors), str(results)]
    words += ["--case", str(index)] + (["--dtype", dtype] if dtype != "float64" else [])
    return shlex.join(words)


def check_results(
    vectors: str | Path, results: str | Path, *, dtype: str = "float64", case: int | None = None
) -> VectorsReport:
    """Judge the result files in RESULTS against the vector files in VECTORS (case `case`
    alone if given). VectorError if the vectors cannot be used or RESULTS is no directory."""
    start = time.perf_counter()
    vectors, results = Path(vectors), Path(results)
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype {dtype!r} is unknown; valid: {', '.join(PRECISIONS)}")
    loaded = load_vectors(vectors, case)
    if not results.is_dir():
        raise VectorError(f"RESULTS {str(results)!r} is not a directory")
    verdicts = [judge_result(v, results / v.path.name, dtype) for v in loaded]
    extra = []
    if case is None:
        extra = sorted({p.name for p in results.glob("*.json")} - {v.path.name for v in loaded})
    failures = []
    for vector, verdict in zip(loaded, verdicts, strict=True):
        if verdict.passed:
            continue
        failure = failure_from(verdict, None, CaseOptions(), dtype, smallest=None)
        failures.append(
            replace(
                failure,
                reproduce=_reproduction(vectors, results, vector.case.index, dtype),
                description=f"{vector.path.name} (case {vector.case.index}, seed "
                f"{vector.case.seed}): {vector.case.describe()}",
            )
        )
    report = Report.gather(
        impl=str(results),
        seed=loaded[0].case.seed,
        verdicts=verdicts,
        failures=failures,
        seconds=time.perf_counter() - start,
    )
    return VectorsReport(report, vectors=str(vectors), extra=extra)
