"""Loading vector files: the cases they hold and the reference's gradients of them."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reference import Architecture
from reference.types import Params
from reference.validation import check_inputs
from verification.cases import Case
from verification.vectors.export import CASE_FILE, SCHEMA_VERSION
from verification.vectors.safe_json import UnreadableJSONError, field, json_type, numbers, read_json

VECTOR_BYTES = 64 * 2**20
"""The largest vector file read: the largest case the gate's bounds allow (16 layers of 64
units, 64 examples) writes about 15 MiB; a larger file is not one of export's."""


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
        raise ValueError(f"it holds {json_type(document)}, but should hold an object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version is {version!r}, but this backprop-oracle reads {SCHEMA_VERSION}"
        )
    spec = field(document, "architecture", dict)
    arch = Architecture(
        sizes=tuple(numbers(spec.get("sizes"), "architecture.sizes", kinds=(int,)).tolist()),
        activations=tuple(field(spec, "activations", list, "architecture.")),
        loss=field(spec, "loss", str, "architecture."),
    )
    about = field(document, "case", dict)
    layers = field(document, "layers", list)
    if len(layers) != arch.L:
        raise ValueError(f"it has {len(layers)} layers, but its architecture has L = {arch.L}")
    params, grads = [], []
    for l, layer in enumerate(layers, start=1):  # layer l is layers[l - 1]
        if not isinstance(layer, dict):
            raise ValueError(f"layer {l} is {json_type(layer)}, but should be an object")
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
        regime=field(about, "regime", str, "case."),
        seed=field(about, "seed", int, "case."),
        index=field(about, "index", int, "case."),
    )
    return Vector(path, case, grads, size=path.stat().st_size)


def load_vector(path: Path) -> Vector:
    """The vector in `path`, or VectorError naming the file and what is wrong with it."""
    try:
        document = read_json(path, VECTOR_BYTES)
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
