"""Writing golden vectors: one JSON file per case of the gate's stream.

`export` writes case I of the gate's stream (verification.cases.draw_case) to
DIR/case-IIII.json: the architecture, the parameters, x and y, and the exact values of E, every
h^l, z^l and delta^l and the gradients, each correctly rounded to float64 (the exact witness,
verification.oracles.exact), and on each gradient entry the largest difference that `check`
accepts. The layout is fixed by schema.json, shipped with the package,
at SCHEMA_VERSION. Floats round-trip exactly: json writes a float as its repr, the shortest
decimal that reads back as the same double, -0.0 and subnormals included. Cases are finite, so
NaN and Infinity never occur (writing refuses them).
"""

import json
from importlib import resources
from pathlib import Path

import numpy as np

from verification.cases import Case, CaseOptions, draw_case
from verification.oracles.exact import exact_backprop
from verification.oracles.tolerance import allowance

SCHEMA_VERSION = 2
"""Raised on any change of layout or meaning that a reader of the old one would misread: 2 holds
the exact values, correctly rounded (1 held the reference's own)."""
SCHEMA_FILE = "schema.json"  # package data of verification.vectors
CASE_FILE = "case-{index:04d}.json"  # the same name in DIR and in RESULTS


def vector_of(case: Case, options: CaseOptions) -> dict:
    """The JSON document of one case: its inputs and everything the reference computes.

    Arrays are nested lists, rows first: W^l (n_{l-1}, n_l), b^l (n_l,), x, z^l, h^l, delta^l
    (n, n_{l-1} or n_l), y (n, n_L), or (n,) integer labels for cross_entropy.
    """
    arch = case.arch
    exact = exact_backprop(arch, case.params, case.x, case.y)
    allowed = allowance(arch, case.params, case.x, case.y)
    layers = []
    for l in range(1, arch.L + 1):
        W, b = case.params[l - 1]  # layer l is params[l - 1]; the witness is keyed by l itself
        A_W, A_b = allowed[l - 1]
        grad_W, grad_b = exact.grad_W[l].value, exact.grad_b[l].value
        layers.append(
            {
                "layer": l,
                "W": W.tolist(),
                "b": b.tolist(),
                "z": exact.z[l].value.tolist(),
                "h": exact.h[l].value.tolist(),
                "delta": exact.delta[l].value.tolist(),
                "grad_W": grad_W.tolist(),
                "grad_b": grad_b.tolist(),
                "allowed_grad_W": accepted_difference(grad_W, A_W).tolist(),
                "allowed_grad_b": accepted_difference(grad_b, A_b).tolist(),
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
                "output_activations": (
                    list(options.output_activations)
                    if options.output_activations is not None
                    else None
                ),
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
        "E": float(exact.E.value),
        "layers": layers,
        "unresolved": exact.unresolved(),
    }


def accepted_difference(exact: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The largest |got - exact| a correct result may show against a vector's value `exact`:
    its allowance A (a correct implementation is within A of the exact gradient), plus one ULP
    of `exact` (the vector holds the exact gradient correctly rounded, within half an ULP, or,
    where the witness left an entry unresolved, the double next to a ball far narrower than
    an ULP)."""
    return allowed + np.spacing(np.abs(exact))


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
    return resources.files("verification.vectors").joinpath(SCHEMA_FILE).read_text()


def schema() -> dict:
    """The JSON Schema of vector files, parsed; schema()["$defs"]["result"] is that of results."""
    return json.loads(schema_text())
