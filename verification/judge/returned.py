"""What an implementation returned, made into plain data the gate can check.

An implementation may return anything: a list of NumPy pairs as the contract asks, tensors of
torch on any device, JAX or CuPy arrays, objects with `__dlpack__` or `__array__`, or something
else entirely (None, a dict, an object whose repr raises). `describe` turns the return value
into a `Returned`: the container's type and length, and for each of the first layers a pair of
`Leaf`s, each holding a NumPy array where a float array came back no larger than the case's
shapes allow (max_entries: what the diagnoses of a wrong shape need), or only its shape and
dtype otherwise, or why the value could not be converted at all.

`describe` runs where the implementation runs: in the isolated child process (which sends the
Returned to the gate as plain data, verification.gate.protocol) or, with --in-process, in the
gate itself. Either way the gate's structure check (verification.judge.call.check_structure)
reads the same Returned. This module imports NumPy only.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_TEXT = 200
"""Characters of a repr or message kept for a report: enough to recognise a value."""

EXTRA_ITEMS = 2
"""Items described beyond the L layers (a list one or two too long is worth showing)."""

ARRAY_DTYPES = ("float64", "float32")
"""Dtypes whose values are sent: the gate judges float64, and float32 under --dtype float32;
any other dtype is reported by name (a structure failure) without its values."""

RETURNED_SIZE = 4
"""An array's values come back when it has at most RETURNED_SIZE times the largest of n and the
widths, squared, entries: every shape a known bug gives (a transpose, one row per example, a
neighbouring layer's) fits, and nothing larger needs to cross from the child."""


def max_entries(n: int, sizes: Sequence[int]) -> int:
    """The most entries of a returned array whose values come back, for a case of batch size n
    and widths `sizes`."""
    return RETURNED_SIZE * max(n, *sizes) ** 2


@dataclass(frozen=True)
class Leaf:
    """One returned gradient (dE/dW^l or dE/db^l) as it came back.

    array: its values as a NumPy array, when it has the contract's shape and a dtype of
        ARRAY_DTYPES; else None.
    shape, dtype: as converted, when it could be converted to an array at all.
    problem: why it could not be converted (then shape and dtype are None).
    type_name: the type of the returned object, e.g. "ndarray", "torch.Tensor".
    """

    type_name: str
    array: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Returned:
    """The return value of one call: its type, its length if it is a list or tuple, a short
    text of it, and for each item (up to L + EXTRA_ITEMS) a pair of Leafs, or a text saying
    what the item is when it is not a pair."""

    type_name: str
    text: str
    length: int | None = None
    items: tuple[tuple[Leaf, Leaf] | str, ...] = ()


def type_name(obj: object) -> str:
    """ "ndarray", "list", or "module.Class" for types outside the builtins and NumPy."""
    cls = type(obj)
    module = cls.__module__.split(".")[0]
    if module in ("builtins", "numpy"):
        return cls.__name__
    return f"{module}.{cls.__qualname__}"


def short_text(obj: object) -> str:
    """repr(obj) cut to MAX_TEXT characters; a repr that raises is named, not propagated."""
    try:
        text = repr(obj)
    except BaseException as exc:  # an object of the implementation's: anything may happen
        return f"<a {type_name(obj)} whose repr raised {type(exc).__name__}>"
    if not isinstance(text, str):
        return f"<a {type_name(obj)} whose repr is not a string>"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def to_array(obj: object) -> tuple[np.ndarray | None, str | None]:
    """`obj` as a NumPy array on the CPU, or None and why it cannot be one.

    torch tensors (any device, with or without a graph) are detached and moved to the CPU;
    CuPy arrays are copied from the device; JAX arrays, objects with `__dlpack__` or
    `__array__`, and nested lists of numbers go through NumPy's own conversions.
    """
    if isinstance(obj, np.ndarray):
        return obj, None
    name = type_name(obj)
    try:
        if name.startswith("torch.") and hasattr(obj, "detach"):
            tensor = obj.detach().to("cpu")  # type: ignore[attr-defined]
            return np.asarray(tensor.numpy()), None
        if name.startswith("cupy.") and hasattr(obj, "get"):
            return np.asarray(obj.get()), None  # type: ignore[attr-defined]
        if hasattr(obj, "__dlpack__"):
            try:
                return np.from_dlpack(obj), None
            except (TypeError, ValueError, RuntimeError, BufferError):
                pass  # a device array: __array__ (below) may still copy it to the host
        if hasattr(obj, "__array__") or isinstance(obj, (list, tuple, int, float)):
            array = np.asarray(obj)
            if array.dtype == object:
                return None, f"a {name} that NumPy can only hold as Python objects"
            return array, None
    except Exception as exc:  # the conversion is the implementation's object's own code
        return None, f"a {name} that could not be converted to a NumPy array ({_why(exc)})"
    return None, f"a {name}, which is not an array"


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {short_text_of_message(exc)}"


def short_text_of_message(exc: BaseException) -> str:
    """str(exc) cut to MAX_TEXT characters; a __str__ that raises is named, not propagated."""
    try:
        text = str(exc)
    except BaseException:
        return f"<a {type(exc).__name__} whose message raised>"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def keeps_values(shape: tuple[int, ...], dtype: str, limit: int) -> bool:
    """Whether the values of an array of this shape and dtype are kept (and sent by the
    child): a dtype of ARRAY_DTYPES and at most `limit` entries (max_entries)."""
    return dtype in ARRAY_DTYPES and math.prod(shape) <= limit


def leaf(obj: object, limit: int) -> Leaf:
    """One returned gradient as a Leaf: its values are kept when keeps_values says so (a
    copy, so that later changes do not matter)."""
    array, problem = to_array(obj)
    if array is None:
        return Leaf(type_name(obj), problem=problem)
    shape, dtype = tuple(int(k) for k in array.shape), str(array.dtype)
    keep = keeps_values(shape, dtype, limit)
    return Leaf(type_name(obj), np.array(array, copy=True) if keep else None, shape, dtype)


def describe(
    result: object, expected: list[tuple[tuple[int, ...], tuple[int, ...]]], limit: int
) -> Returned:
    """`result` as a Returned, given the expected shapes [(shape of W^l, shape of b^l)] and
    the most entries an array may have for its values to be kept (max_entries).

    Never raises on account of the result: whatever an item is, it is described.
    """
    if not isinstance(result, (list, tuple)):
        return Returned(type_name(result), short_text(result))
    text = f"a {type_name(result)} of {len(result)} items"
    items: list[tuple[Leaf, Leaf] | str] = []
    for item in result[: len(expected) + EXTRA_ITEMS]:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            items.append((leaf(item[0], limit), leaf(item[1], limit)))
        else:
            items.append(short_text(item))
    return Returned(type_name(result), text, len(result), tuple(items))
