"""Golden test vectors: the gate for gradient code in any language, through JSON files.

    python -m verification vectors export --out DIR [--cases N] [--seed S] [--case I]
                                          [--activations A,B] [--losses A,B]
                                          [--max-depth L] [--max-width N] [--max-batch N]
    python -m verification vectors check DIR RESULTS [--case I] [--dtype float64|float32]
                                         [--json PATH] [--junit-xml PATH]
    python -m verification vectors schema

`export` writes case I of the gate's stream (verification.cases.draw_case) to
DIR/case-IIII.json: the architecture, the parameters, x and y, and what the reference computes
from them: E, every h^l, z^l and delta^l, the gradients, and on each gradient entry the largest
difference that `check` accepts. A program in any language reads these files, computes the
gradients its own way and writes RESULTS/case-IIII.json holding at least

    {"layers": [{"grad_W": [[...], ...], "grad_b": [...]}, ...]}    (layer l at index l - 1)

`check` judges them as the gate judges a Python implementation (structure, finite values, then
every entry within the rounding allowance of verification.tolerance:
|got - expected| <= A(implementation) + A(reference), both in float64 unless --dtype float32),
with the gate's report and exit status: 0 every case passed, 1 some case failed (or a result
is missing, malformed, or matches no vector), 2 the command could not run as asked.

The layout is fixed by vectors.schema.json, shipped with the package, at SCHEMA_VERSION.
Floats round-trip exactly: json writes a float as its repr, the shortest decimal that reads
back as the same double, -0.0 and subnormals included. Cases are finite, so NaN and Infinity
never occur (writing refuses them).

Results come from other programs and are read as hostile: as JSON only (never pickle or eval),
a file larger than its limit is refused before it is read, and one nested deeper than
MAX_NESTING is refused before it is parsed.
"""

import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

import numpy as np

from reference import Architecture, backprop
from reference.programs.command_line import CommandLineError, OneLineParser, whole_number
from reference.types import Params
from reference.validation import check_inputs
from verification.case_options import add_case_options, case_options
from verification.cases import Case, CaseOptions, draw_case
from verification.compare import compare
from verification.hints import hint_for
from verification.judge import (
    ALLOWANCES,
    FLOAT_DTYPES,
    Finding,
    Verdict,
    check_structure,
    find_non_finite,
)
from verification.report import Report, failure_from
from verification.tolerance import allowance

PROG = "backprop-gate vectors"

SCHEMA_VERSION = 1  # raised on any change of layout that a reader of the old one would misread
SCHEMA_FILE = "vectors.schema.json"  # package data of verification
CASE_FILE = "case-{index:04d}.json"  # the same name in DIR and in RESULTS


MAX_NESTING = 32  # a result nests 5 deep (document, layers, layer, row, entry): room for more
RESULT_BYTES_FLOOR = 16 * 2**20  # parsing 16 MiB of numbers takes ~180 MB of memory at worst
RESULT_SIZE_FACTOR = 4  # a result may repeat its vector whole and add its gradients, in 4x
ORACLE = "the vector"  # what a mismatch is against, in its message


# --- export -----------------------------------------------------------------------------------


def vector_of(case: Case, options: CaseOptions) -> dict:
    """The JSON document of one case: its inputs and everything the reference computes.

    Arrays are nested lists, rows first: W^l (n_{l-1}, n_l), b^l (n_l,), x, z^l, h^l, delta^l
    (n, n_{l-1} or n_l), y (n, n_L), or (n,) integer labels for cross_entropy.
    """
    arch = case.arch
    trace = backprop(arch, case.params, case.x, case.y)
    allowed = allowance(arch, case.params, case.x, case.y, trace=trace)
    layers = []
    for l in range(1, arch.L + 1):
        W, b = case.params[l - 1]  # layer l is params[l - 1]; the trace is keyed by l itself
        A_W, A_b = allowed[l - 1]
        layers.append(
            {
                "layer": l,
                "W": W.tolist(),
                "b": b.tolist(),
                "z": trace.z[l].tolist(),
                "h": trace.h[l].tolist(),
                "delta": trace.delta[l].tolist(),
                "grad_W": trace.grad_W[l].tolist(),
                "grad_b": trace.grad_b[l].tolist(),
                "allowed_grad_W": (ALLOWANCES * A_W).tolist(),
                "allowed_grad_b": (ALLOWANCES * A_b).tolist(),
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "case": {
            "seed": case.seed,
            "index": case.index,
            "regime": case.regime,
            "options": {
                "activations": list(options.activations),
                "losses": list(options.losses),
                "max_depth": options.max_depth,
                "max_width": options.max_width,
                "max_batch": options.max_batch,
            },
        },
        "architecture": {
            "sizes": list(arch.sizes),
            "activations": list(arch.activations),
            "loss": arch.loss,
        },
        "n": case.n,
        "x": case.x.tolist(),
        "y": case.y.tolist(),
        "E": float(trace.E),
        "layers": layers,
    }


def to_json(value: object, indent: str = "") -> str:
    """JSON for a person to read: one key per line, one matrix row per line.

    Numbers are written by json (the shortest repr that reads back to the same double);
    NaN and Infinity are refused (ValueError), since JSON has no such numbers.
    """
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = (f"{inner}{json.dumps(k)}: {to_json(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + to_json(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, allow_nan=False)


def export(
    out: str | Path,
    *,
    cases: int = 200,
    seed: int = 0,
    options: CaseOptions | None = None,
    case: int | None = None,
) -> list[Path]:
    """Write cases 0..cases-1 of the stream `seed` (or case `case` alone) to OUT, one file each.

    OUT is created if need be. ValueError if it holds other .json files, which `check` would
    take for vectors of this export. `options` default to CaseOptions(), the gate's.
    """
    options = CaseOptions() if options is None else options
    out = Path(out)
    indices = [case] if case is not None else list(range(cases))
    names = {CASE_FILE.format(index=i) for i in indices}
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, but should be a directory")
    others = sorted(p.name for p in out.glob("*.json") if p.name not in names)
    if others:
        raise ValueError(
            f"--out {str(out)!r} already holds {len(others)} other .json files (e.g. "
            f"{others[0]}), which vectors check would take for vectors: export into an "
            "empty directory"
        )
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in indices:
        path = out / CASE_FILE.format(index=index)
        path.write_text(to_json(vector_of(draw_case(seed, index, options), options)) + "\n")
        paths.append(path)
    return paths


def schema_text() -> str:
    """The JSON Schema of vector files (its $defs.result: of result files), as shipped."""
    return resources.files("verification").joinpath(SCHEMA_FILE).read_text()


def schema() -> dict:
    """The JSON Schema of vector files, parsed; schema()["$defs"]["result"] is that of results."""
    return json.loads(schema_text())


# --- reading JSON that may be hostile ---------------------------------------------------------


class UnreadableJSONError(ValueError):
    """A file that is not JSON we are willing to parse; the message says why."""


_CHUNK = 1 << 22  # bytes per step of the depth scan: bounds its memory to ~100 MB
_QUOTE, _OPENS, _CLOSES = ord('"'), (ord("["), ord("{")), (ord("]"), ord("}"))


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of [ and { in a JSON text, outside its strings.

    Vectorised, without recursion, in chunks of bounded memory, so that a hostile file can
    exhaust neither the stack nor the memory. Escaped backslashes, then escaped quotes, are
    dropped first (in that order, as a JSON reader pairs them); the quotes left then open and
    close strings, and a bracket counts when an even number of quotes precede it. (Unbalanced
    brackets count as they come; json.loads then rejects the text.)
    """
    text = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    depth = deepest = quotes = 0
    for start in range(0, text.size, _CHUNK):
        chunk = text[start : start + _CHUNK]
        outside = (quotes + np.cumsum(chunk == _QUOTE, dtype=np.int64)) % 2 == 0
        steps = np.isin(chunk, _OPENS).astype(np.int64) - np.isin(chunk, _CLOSES)
        levels = depth + np.cumsum(np.where(outside, steps, 0))
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        quotes += int(np.count_nonzero(chunk == _QUOTE))
    return deepest


def read_json(path: Path, limit: int | None) -> object:
    """The JSON document in `path`, read as untrusted.

    UnreadableJSONError if the file is larger than `limit` bytes (checked before reading), nested
    deeper than MAX_NESTING (checked before parsing), not UTF-8, or not valid JSON. Nothing in
    the file is ever executed: json only builds dicts, lists, strings, numbers and None.
    """
    try:
        size = path.stat().st_size
        if limit is not None and size > limit:
            raise UnreadableJSONError(
                f"is {size:,} bytes, more than the {limit:,} allowed; not read"
            )
        with path.open("rb") as f:
            data = f.read(-1 if limit is None else limit + 1)
    except OSError as exc:
        raise UnreadableJSONError(f"cannot be read: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:  # it grew after stat()
        raise UnreadableJSONError(f"is more than the {limit:,} bytes allowed; not read")
    depth = nesting_depth(data)
    if depth > MAX_NESTING:
        raise UnreadableJSONError(
            f"nests arrays and objects {depth:,} deep, more than the {MAX_NESTING} allowed; "
            "not parsed"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableJSONError(f"is not UTF-8 text (byte {exc.start:,})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableJSONError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        raise UnreadableJSONError(f"is not JSON we can read: {exc}") from None


_MISSING = object()


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


def _entries(value: list, what: str) -> tuple[tuple[int, ...], list]:
    """The shape of a nested JSON array and its entries in row-major order, level by level
    (no recursion); ValueError if it is ragged."""
    shape, probe = [], value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    level = [value]
    for depth, length in enumerate(shape):
        below = []
        for item in level:
            if not isinstance(item, list) or len(item) != length:
                raise ValueError(
                    f"{what} is ragged: at depth {depth} it holds {_json_type(item)}"
                    + (f" of length {len(item)}" if isinstance(item, list) else "")
                    + f", but the first such entry is an array of length {length}"
                )
            below.extend(item)
        level = below
    return tuple(shape), level


def numbers(value: object, what: str, *, kinds: tuple = (int, float), null: bool = False):
    """A nested JSON array of numbers as a float64 array (int64 if kinds is (int,)).

    ValueError, naming `what`, if it is ragged or holds anything but numbers of `kinds` (bool
    is not a number here). With null=True, null stands for NaN: JavaScript's JSON.stringify
    writes NaN and Infinity as null.
    """
    if not isinstance(value, list):
        raise ValueError(f"{what} is {_json_type(value)}, but should be an array of numbers")
    shape, flat = _entries(value, what)
    bad = next((v for v in flat if type(v) not in kinds and not (null and v is None)), _MISSING)
    if bad is not _MISSING:
        expected = "integers" if kinds == (int,) else "numbers"
        raise ValueError(f"{what} holds {_json_type(bad)}, but should hold only {expected}")
    if kinds == (int,):
        try:
            return np.array(flat, dtype=np.int64).reshape(shape)
        except OverflowError:
            raise ValueError(f"{what} holds an integer too large for int64") from None
    try:
        values = [np.nan if v is None else float(v) for v in flat]
    except OverflowError:
        raise ValueError(f"{what} holds an integer too large for float64") from None
    return np.array(values, dtype=np.float64).reshape(shape)


_KINDS = {dict: "an object", list: "an array", str: "a string", int: "an integer"}


def _field(document: dict, key: str, kind: type, prefix: str = "") -> object:
    """document[key], which must be of `kind`; ValueError naming prefix + key otherwise."""
    value = document.get(key, _MISSING)
    if value is _MISSING:
        raise ValueError(f"it has no {prefix}{key}")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{prefix}{key} is {_json_type(value)}, but should be {_KINDS[kind]}")
    return value


# --- vectors ----------------------------------------------------------------------------------


class VectorError(ValueError):
    """A vector file that cannot be used: `check` cannot run as asked and exits 2."""


@dataclass(frozen=True)
class Vector:
    """One vector file: the case it holds and the reference's gradients of it."""

    path: Path
    case: Case
    grads: Params
    size: int  # bytes, which sets the limit on its result (RESULT_SIZE_FACTOR)


def _vector_from(document: object, path: Path) -> Vector:
    if not isinstance(document, dict):
        raise ValueError(f"it holds {_json_type(document)}, but should hold an object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version is {version!r}, but this backprop-oracle reads {SCHEMA_VERSION}"
        )
    spec = _field(document, "architecture", dict)
    arch = Architecture(
        sizes=tuple(numbers(spec.get("sizes"), "architecture.sizes", kinds=(int,)).tolist()),
        activations=tuple(_field(spec, "activations", list, "architecture.")),
        loss=_field(spec, "loss", str, "architecture."),
    )
    about = _field(document, "case", dict)
    layers = _field(document, "layers", list)
    if len(layers) != arch.L:
        raise ValueError(f"it has {len(layers)} layers, but its architecture has L = {arch.L}")
    params, grads = [], []
    for l, layer in enumerate(layers, start=1):  # layer l is layers[l - 1]
        if not isinstance(layer, dict):
            raise ValueError(f"layer {l} is {_json_type(layer)}, but should be an object")
        W, b, grad_W, grad_b = (
            numbers(layer.get(key), f"layer {l}: {key}") for key in ("W", "b", "grad_W", "grad_b")
        )
        if grad_W.shape != W.shape or grad_b.shape != b.shape:
            raise ValueError(
                f"layer {l}: grad_W, grad_b have shapes {grad_W.shape}, {grad_b.shape}, but "
                f"should have those of W, b: {W.shape}, {b.shape}"
            )
        params.append((W, b))
        grads.append((grad_W, grad_b))
    labels = arch.loss == "cross_entropy"
    x = numbers(document.get("x"), "x")
    y = numbers(document.get("y"), "y", kinds=(int,) if labels else (int, float))
    params, x, y = check_inputs(arch.sizes, arch.loss, params, x, y)
    arrays = {"x": x, "y": y}
    for l, (W, b) in enumerate(params, start=1):
        arrays |= {f"layer {l}: W": W, f"layer {l}: b": b}
    for l, (grad_W, grad_b) in enumerate(grads, start=1):
        arrays |= {f"layer {l}: grad_W": grad_W, f"layer {l}: grad_b": grad_b}
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds a number that is not finite")
    case = Case(
        arch,
        params,
        x,
        y,
        regime=_field(about, "regime", str, "case."),
        seed=_field(about, "seed", int, "case."),
        index=_field(about, "index", int, "case."),
    )
    return Vector(path, case, grads, size=path.stat().st_size)


def load_vector(path: Path) -> Vector:
    """The vector in `path`, or VectorError naming the file and what is wrong with it."""
    try:
        document = read_json(path, limit=None)
    except UnreadableJSONError as exc:
        raise VectorError(f"vector file {str(path)!r} {exc}") from None
    try:
        return _vector_from(document, path)
    except (ValueError, TypeError) as exc:
        raise VectorError(
            f"{str(path)!r} is not a vector file of schema version {SCHEMA_VERSION}: {exc}"
        ) from None


def load_vectors(directory: Path, case: int | None = None) -> list[Vector]:
    """Every vector in `directory` (each .json file), in order of case index; or case `case`."""
    if not directory.is_dir():
        raise VectorError(f"DIR {str(directory)!r} is not a directory of vectors")
    if case is not None:
        path = directory / CASE_FILE.format(index=case)
        if not path.is_file():
            raise VectorError(f"--case {case}: DIR {str(directory)!r} has no {path.name}")
        return [load_vector(path)]
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise VectorError(
            f"DIR {str(directory)!r} holds no .json vector files; write them with "
            "`python -m verification vectors export --out DIR`"
        )
    return sorted((load_vector(p) for p in paths), key=lambda v: (v.case.seed, v.case.index))


# --- judging one result -----------------------------------------------------------------------


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
            f"the result holds {_json_type(document)}, but should hold an object "
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
    layers = document.get("layers", _MISSING)
    if not isinstance(layers, list):
        what = "no 'layers'" if layers is _MISSING else f"'layers' as {_json_type(layers)}"
        return None, _malformed(
            f"the result has {what}, but should have an array of L = {case.L} objects "
            '{"grad_W": ..., "grad_b": ...}, layer l at index l - 1'
        )
    grads, problems = [], []
    for l, layer in enumerate(layers, start=1):  # layer l is layers[l - 1]
        if not isinstance(layer, dict):
            problems.append(
                _malformed(f"layer {l} is {_json_type(layer)}, but should be an object", l)
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
    the structure and finite values (verification.judge), then every entry within ALLOWANCES
    allowances of the vector's gradients."""
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
    arrays, malformed = check_structure(grads, case, dtype)
    if malformed is not None:
        return Verdict(case, (malformed,))
    non_finite = find_non_finite(arrays)
    if non_finite is not None:
        nulls = any(v is None for layer in document["layers"] for v in _leaves(layer))
        note = _NULL_NOTE if nulls else ""
        return Verdict(case, (replace(non_finite, message=non_finite.message + note),))
    allowed = allowance(case.arch, case.params, case.x, case.y, dtype=FLOAT_DTYPES[dtype])
    allowed = [(ALLOWANCES * A_W, ALLOWANCES * A_b) for A_W, A_b in allowed]
    mismatches = compare(arrays, vector.grads, allowed, ORACLE)
    if not mismatches:
        return Verdict(case, ())
    start = max(m.layer for m in mismatches)  # the highest layer: where the error starts
    worst = max((m for m in mismatches if m.layer == start), key=lambda m: m.count)
    k = "Wb".index(worst.param)
    hint = hint_for(arrays[start - 1][k], vector.grads[start - 1][k], worst.param, case.n)
    return Verdict(
        case,
        (Finding("mismatch", worst.describe(), start, worst.param, hint, tuple(mismatches)),),
    )


def _leaves(layer: dict):
    """The entries of a layer's grad_W and grad_b (already known to be arrays of numbers)."""
    for key in ("grad_W", "grad_b"):
        yield from _entries(layer[key], key)[1]


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorsReport(Report):
    """The gate's report on results judged against vectors, plus the result files that match
    no vector. `ok` is True when every case passed and no result is left over."""

    vectors: str = ""
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.extra

    def summary(self) -> str:
        """Report.summary, whose first two lines (the header, which speaks of torch and
        finite differences) are replaced by this command's own."""
        rate = self.cases / self.seconds if self.seconds > 0 else float("inf")
        lines = [
            f"backprop-gate vectors: results in {self.impl} against the vectors in "
            f"{self.vectors}, {self.cases} cases in {self.seconds:.1f} s ({rate:.0f} cases/s)",
            f"{'PASSED' if self.ok else 'FAILED'}: {self.passed} of {self.cases} cases passed",
        ]
        if self.extra:
            more = ", ..." if len(self.extra) > 10 else ""
            lines[1] += (
                f"; {len(self.extra)} result files match no vector: "
                f"{', '.join(self.extra[:10])}{more}"
            )
        return "\n".join(lines + super().summary().splitlines()[2:])


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
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype {dtype!r} is unknown; valid: {', '.join(FLOAT_DTYPES)}")
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
    base = Report.gather(
        impl=str(results),
        seed=loaded[0].case.seed,
        verdicts=verdicts,
        failures=failures,
        seconds=time.perf_counter() - start,
    )
    shared = {f.name: getattr(base, f.name) for f in fields(Report)}
    return VectorsReport(**shared, vectors=str(vectors), extra=extra)


# --- the command line -------------------------------------------------------------------------


def parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Golden test vectors: the gate for gradient code written in any language.",
    )
    commands = p.add_subparsers(dest="command", required=True, metavar="export|check|schema")
    out = commands.add_parser(
        "export", help="write one JSON vector file per case of the gate's stream"
    )
    out.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    add_case_options(out)
    out.add_argument("--case", type=whole_number(0), help="export only case I of the stream")
    judge = commands.add_parser(
        "check", help="judge result files written by another program against the vectors"
    )
    judge.add_argument("vectors", metavar="DIR", help="the vectors written by export")
    judge.add_argument("results", metavar="RESULTS", help="one result file per vector file")
    judge.add_argument("--case", type=whole_number(0), help="judge only case I")
    judge.add_argument(
        "--dtype",
        choices=tuple(FLOAT_DTYPES),
        default="float64",
        help="the precision the program computes in (float64)",
    )
    judge.add_argument("--json", metavar="PATH", help="write the report as JSON")
    judge.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    commands.add_parser("schema", help=f"print the JSON Schema of the files ({SCHEMA_FILE})")
    return p


def main(argv: Sequence[str]) -> int:
    """`python -m verification vectors ...`; returns the exit status 0, 1 or 2."""
    try:
        args = parser().parse_args(list(argv))
        if args.command == "schema":
            print(schema_text(), end="")
            return 0
        if args.command == "export":
            start = time.perf_counter()
            paths = export(
                args.out,
                cases=args.cases,
                seed=args.seed,
                options=case_options(args),
                case=args.case,
            )
            print(
                f"wrote {len(paths)} vector files (schema version {SCHEMA_VERSION}) to "
                f"{args.out} in {time.perf_counter() - start:.1f} s"
            )
            return 0
        report = check_results(args.vectors, args.results, dtype=args.dtype, case=args.case)
    except (CommandLineError, ValueError, TypeError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return report.finish(PROG, json_path=args.json, junit_path=args.junit_xml)
