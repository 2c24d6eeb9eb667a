"""Golden test vectors: the gate for gradient code in any language, through JSON files.

    export     write one vector file per case: the case and everything the reference
               computes from it (export, vector_of, schema)
    safe_json  read JSON that may be hostile (size and nesting limits, no recursion)
    load       the cases and gradients held by vector files
    check      judge result files against vectors, through the gate's own value checks
    command    `python -m verification vectors export|check|schema`

A program in any language reads the vector files, computes the gradients its own way and
writes RESULTS/case-IIII.json holding at least

    {"layers": [{"grad_W": [[...], ...], "grad_b": [...]}, ...]}    (layer l at index l - 1)

Nothing here imports torch.
"""

from verification.vectors.check import VectorsReport, check_results
from verification.vectors.export import CASE_FILE, SCHEMA_VERSION, export, schema, vector_of
from verification.vectors.load import VectorError, load_vector, load_vectors

__all__ = [
    "CASE_FILE",
    "SCHEMA_VERSION",
    "VectorError",
    "VectorsReport",
    "check_results",
    "export",
    "load_vector",
    "load_vectors",
    "schema",
    "vector_of",
]
