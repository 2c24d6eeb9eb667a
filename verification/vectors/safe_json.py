"""Reading JSON that may be hostile: result files come from other programs.

Nothing in a file is ever executed: json only builds dicts, lists, strings, numbers and None.
A file larger than its limit is refused before it is read, one nested deeper than MAX_NESTING
before it is parsed, and arrays are converted level by level, without recursion.
"""

import json
import stat
from pathlib import Path

import numpy as np

MAX_NESTING = 32  # a result nests 5 deep (document, layers, layer, row, entry): room for more


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


def read_json(path: Path, limit: int) -> object:
    """The JSON document in `path`, read as untrusted.

    UnreadableJSONError if it is not a regular file (a directory, a pipe or a device is never
    opened), larger than `limit` bytes (checked before reading), nested deeper than
    MAX_NESTING (checked before parsing), not UTF-8, or not valid JSON. Nothing in the file is
    ever executed: json only builds dicts, lists, strings, numbers and None.
    """
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableJSONError("is not a regular file; not opened")
        size = status.st_size
        if size > limit:
            raise UnreadableJSONError(
                f"is {size:,} bytes, more than the {limit:,} allowed; not read"
            )
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UnreadableJSONError(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew after stat()
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
        raise UnreadableJSONError(f"is not valid JSON: {plain_words(exc)}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        raise UnreadableJSONError(f"is not JSON we can read: {exc}") from None


_PLAIN = {  # json's messages, said plainly
    "Expecting value": "a value is missing",
    "Expecting ',' delimiter": "a comma is missing",
    "Expecting ':' delimiter": "a colon is missing",
    "Expecting property name enclosed in double quotes": (
        "a name in double quotes should come next (a comma too many?)"
    ),
    "Unterminated string starting at": "a string is never closed",
    "Invalid control character at": (
        "a string holds a raw control character (a line break or a tab must be written as "
        "\\n or \\t), or is never closed"
    ),
    "Invalid \\escape": "a string holds an invalid escape after a backslash",
    "Extra data": "more text follows the end of the JSON document",
}


def plain_words(exc: json.JSONDecodeError) -> str:
    """What is wrong with a JSON text, in plain words, with its line and column, e.g. "the
    text ends in the middle of a string (line 1, column 57): cut off?"."""
    where = f"line {exc.lineno}, column {exc.colno}"
    if not exc.doc.strip():
        return "the file is empty"
    at_the_end = not exc.doc[exc.pos :].strip() or exc.msg.startswith("Unterminated string")
    if at_the_end and exc.msg != "Extra data":
        return f"the text ends before the document does ({where}): is the file cut off?"
    return f"{_PLAIN.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])} ({where})"


MISSING = object()


def json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


def entries(value: list, what: str) -> tuple[tuple[int, ...], list]:
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
                    f"{what} is ragged: at depth {depth} it holds {json_type(item)}"
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
        raise ValueError(f"{what} is {json_type(value)}, but should be an array of numbers")
    shape, flat = entries(value, what)
    bad = next((v for v in flat if type(v) not in kinds and not (null and v is None)), MISSING)
    if bad is not MISSING:
        expected = "integers" if kinds == (int,) else "numbers"
        raise ValueError(f"{what} holds {json_type(bad)}, but should hold only {expected}")
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


def field(document: dict, key: str, kind: type, prefix: str = "") -> object:
    """document[key], which must be of `kind`; ValueError naming prefix + key otherwise."""
    value = document.get(key, MISSING)
    if value is MISSING:
        raise ValueError(f"it has no {prefix}{key}")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{prefix}{key} is {json_type(value)}, but should be {_KINDS[kind]}")
    return value
