"""What crosses between the gate and its child process, and how the gate reads it safely.

Every message is a header, a JSON object of at most MAX_HEADER bytes, framed by its length (4
bytes, big-endian), then a payload of raw bytes whose size the header states. Nothing is ever
unpickled or evaluated: the gate parses the header with `json`, checks every field against
what it expects (types, lengths, shapes and dtypes from an allow-list), and reads no more
payload than the case's own shapes allow. A child that sends anything else has broken the
protocol, and its call fails (verification.gate.isolation).

The arguments of a call travel the other way through a shared file mapped by both processes
(verification.gate.isolation.Arguments): only their layout is in the request's header.
"""

import json
import math
import os
import select
import struct
import time
from collections.abc import Callable

import numpy as np

from verification.judge.call import Raised
from verification.judge.returned import EXTRA_ITEMS, MAX_TEXT, Leaf, Returned, keeps_values

MAX_HEADER = 1 << 20
"""Bytes of one header at most: a described return value takes a few KB (texts are cut to
judge.returned.MAX_TEXT characters, items to L + judge.returned.EXTRA_ITEMS)."""

LENGTH = struct.Struct(">I")
POLL_SECONDS = 0.05  # how often a wait looks at the child (alive, memory) between reads


class ProtocolError(Exception):
    """The child sent something that is not a well-formed message of this protocol."""


class DeadlineError(Exception):
    """No complete message arrived before the deadline."""


class ClosedError(Exception):
    """The child's end of the pipe closed (it exited, or crashed) before a whole message."""


# --- writing (both sides) --------------------------------------------------------------------


def write_message(fd: int, header: dict, payload: bytes = b"") -> None:
    """Send one message: the header's length, the header, then the payload."""
    data = json.dumps(header, allow_nan=False).encode()
    _write_all(fd, LENGTH.pack(len(data)) + data + payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --- reading (the gate's side: the child is not trusted) -------------------------------------


def read_exact(
    fd: int, size: int, deadline: float, watch: Callable[[], None] | None = None
) -> bytes:
    """`size` bytes from `fd` before `deadline` (time.monotonic), calling `watch` between
    reads (it may raise, e.g. when the child went over its memory limit).

    DeadlineError if the time runs out; ClosedError if the other end closes first.
    """
    chunks, missing = [], size
    while missing:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineError
        ready, _, _ = select.select([fd], [], [], min(left, POLL_SECONDS))
        if watch is not None:
            watch()
        if not ready:
            continue
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise ClosedError
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_header(fd: int, deadline: float, watch: Callable[[], None] | None = None) -> dict:
    """One header as a dict; ProtocolError if it is too long or not a JSON object."""
    (size,) = LENGTH.unpack(read_exact(fd, LENGTH.size, deadline, watch))
    if size > MAX_HEADER:
        raise ProtocolError(f"a header of {size:,} bytes, more than the {MAX_HEADER:,} allowed")
    try:
        header = json.loads(read_exact(fd, size, deadline, watch))
    except (ValueError, RecursionError):
        raise ProtocolError("a header that is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not a JSON object")
    return header


def field(header: dict, key: str, kind: type | tuple, optional: bool = False) -> object:
    """header[key], of `kind` (bool is never an int here); ProtocolError otherwise."""
    if key not in header and optional:
        return None
    value = header.get(key)
    if isinstance(value, bool) and kind is not bool:
        raise ProtocolError(f"{key} is a boolean")
    if not isinstance(value, kind):
        raise ProtocolError(f"{key} is {type(value).__name__}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not a string")
    return value[: 4 * MAX_TEXT]


def _shape(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > 32:
        raise ProtocolError(f"{what} is not a shape")
    if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in value):
        raise ProtocolError(f"{what} is not a shape")
    return tuple(value)


# --- a return value --------------------------------------------------------------------------


def encode_returned(returned: Returned) -> tuple[dict, bytes]:
    """A Returned as a header and the payload of its arrays (in item order, W before b)."""
    payload = []
    items: list = []
    for item in returned.items:
        if isinstance(item, str):
            items.append(item)
            continue
        leaves = []
        for leaf in item:
            entry = {
                "type": leaf.type_name,
                "shape": list(leaf.shape) if leaf.shape is not None else None,
                "dtype": leaf.dtype,
                "problem": leaf.problem,
                "data": leaf.array is not None,
            }
            if leaf.array is not None:
                payload.append(np.ascontiguousarray(leaf.array).tobytes())
            leaves.append(entry)
        items.append(leaves)
    header = {
        "type": returned.type_name,
        "text": returned.text,
        "length": returned.length,
        "items": items,
    }
    return header, b"".join(payload)


def decode_returned(
    header: dict, layers: int, limit: int
) -> tuple[Returned, list[tuple[int, int, tuple[int, ...], str]]]:
    """The Returned described by `header` (for a case of `layers` layers), with its arrays
    still to be read: returns the Returned with placeholders and the list of (item, 0 for W or
    1 for b, shape, dtype) whose values follow in the payload.

    ProtocolError for anything that judge.returned.describe, run on any return value, could not
    have made for this case: a length that is not a whole number >= 0; other than as many items
    as it describes (min(length, layers + EXTRA_ITEMS); none without a length); a leaf that has
    both a problem and a shape or dtype, or neither; and values sent for an array other than
    exactly those it keeps (judge.returned.keeps_values: a dtype of ARRAY_DTYPES and at most
    `limit` entries, judge.returned.max_entries). The gate's checks may then rely on every leaf
    of an accepted shape and dtype holding its values, and on one item per layer of a list of
    the right length.
    """
    length = field(header, "length", (int, type(None)))
    items_in = field(header, "items", list)
    if length is not None and not length >= 0:
        raise ProtocolError("length is negative")
    described = 0 if length is None else min(length, layers + EXTRA_ITEMS)
    if len(items_in) != described:
        raise ProtocolError(
            f"a return value of length {length} with {len(items_in)} items described, not "
            f"{described}"
        )
    items: list = []
    wanted = []
    for k, item in enumerate(items_in):
        if isinstance(item, str):
            items.append(_text(item, "an item"))
            continue
        if not isinstance(item, list) or len(item) != 2:
            raise ProtocolError("an item that is neither a text nor a pair")
        pair = []
        for side, entry in enumerate(item):
            leaf, data = _leaf(entry, limit)
            if data:
                wanted.append((k, side, leaf.shape, leaf.dtype))
            pair.append(leaf)
        items.append(tuple(pair))
    returned = Returned(
        _text(field(header, "type", str), "type"),
        _text(field(header, "text", str), "text"),
        length,
        tuple(items),
    )
    return returned, wanted


def _leaf(entry: object, limit: int) -> tuple[Leaf, bool]:
    """One described leaf, without its values, and whether its values follow in the payload;
    ProtocolError unless it is what judge.returned.leaf makes: a problem and nothing else, or
    a shape and a dtype with values exactly when keeps_values says so."""
    if not isinstance(entry, dict):
        raise ProtocolError("a leaf that is not an object")
    type_name = _text(field(entry, "type", str), "a type")
    problem, shape, dtype = entry.get("problem"), entry.get("shape"), entry.get("dtype")
    data = field(entry, "data", bool)
    if problem is not None:
        if shape is not None or dtype is not None or data:
            raise ProtocolError("a leaf with a problem and a shape, a dtype or values")
        return Leaf(type_name, problem=_text(problem, "a problem")), False
    if shape is None or dtype is None:
        raise ProtocolError("a leaf without a problem, a shape or a dtype")
    shape, dtype = _shape(shape, "a shape"), _text(dtype, "a dtype")
    if data != keeps_values(shape, dtype, limit):
        raise ProtocolError(
            f"{'values' if data else 'no values'} sent for an array of shape "
            f"{shape!s:.80} and dtype {dtype!r:.20} (limit {limit} entries)"
        )
    return Leaf(type_name, shape=shape, dtype=dtype), data


def payload_size(wanted: list[tuple[int, int, tuple[int, ...], str]]) -> int:
    """Bytes of the arrays listed by decode_returned."""
    return sum(math.prod(shape) * np.dtype(dtype).itemsize for _, _, shape, dtype in wanted)


def with_arrays(
    returned: Returned, wanted: list[tuple[int, int, tuple[int, ...], str]], payload: bytes
) -> Returned:
    """`returned` with the values of `wanted` read from `payload`, in order; ProtocolError for
    a shape NumPy cannot make (e.g. a dimension beyond its largest, next to a 0)."""
    items = list(returned.items)
    offset = 0
    for k, side, shape, dtype in wanted:
        count = math.prod(shape)
        array = np.frombuffer(payload, dtype=np.dtype(dtype), count=count, offset=offset)
        offset += count * np.dtype(dtype).itemsize
        try:
            array = array.reshape(shape)
        except ValueError:
            raise ProtocolError(
                f"an array of shape {shape!s:.80}, which NumPy cannot make"
            ) from None
        pair = list(items[k])
        old = pair[side]
        pair[side] = Leaf(old.type_name, array.copy(), shape, dtype)
        items[k] = tuple(pair)
    return Returned(returned.type_name, returned.text, returned.length, tuple(items))


# --- an exception ----------------------------------------------------------------------------


def encode_raised(raised: Raised) -> dict:
    return {
        "type": raised.type_name,
        "message": raised.message,
        "where": raised.where,
        "layer": raised.layer,
    }


def decode_raised(header: dict, L: int) -> Raised:
    layer = header.get("layer")
    if not (layer is None or (isinstance(layer, int) and not isinstance(layer, bool))):
        raise ProtocolError("layer is not a whole number")
    return Raised(
        _text(header.get("type"), "type"),
        _text(header.get("message"), "message"),
        _text(header.get("where", ""), "where"),
        layer if layer is not None and 1 <= layer <= L else None,
    )
