"""What the torch and JAX adapters share: the user's pieces checked by name, the choice of the
piece that computes each layer of a case, and the adapter's name for the gate.

A piece is one of the user's functions, keyed by a name of the contract: an activation
(docs/contract.md, section 2) or a loss (section 3). For a name the user did not supply, the
adapter takes the framework's own function when `fallback` is True, and otherwise refuses the
case with a ValueError that names the layer, the name and what to do instead.

This module imports the reference's names only (NumPy): never torch, never JAX.
"""

import sys
from collections.abc import Callable, Mapping
from typing import TypeVar

from reference import ACTIVATIONS, LOSSES

Piece = TypeVar("Piece")


def checked_pieces(
    pieces: Mapping[str, object] | None,
    what: str,
    as_callable: Callable[[object, str], Piece],
) -> dict[str, Piece]:
    """The user's pieces keyed by contract names, each made callable by `as_callable`.

    what: "activations" or "losses", the keyword they were passed as. ValueError names a key
    that is not a name of the contract; `as_callable(piece, where)` raises TypeError naming
    `where` (e.g. "activations['tanh']") for a piece it cannot call.
    """
    valid = tuple(ACTIVATIONS) if what == "activations" else tuple(LOSSES)
    if pieces is None:
        return {}
    if not isinstance(pieces, Mapping):
        raise TypeError(
            f"{what} is a {type(pieces).__name__}, but should be a dict from names to your "
            f"functions, e.g. {{{valid[2 if what == 'activations' else 0]!r}: ...}}"
        )
    checked = {}
    for name, piece in pieces.items():
        if name not in valid:
            raise ValueError(f"{what}: {name!r} is not a name of the contract; valid: {valid}")
        checked[name] = as_callable(piece, f"{what}[{name!r}]")
    return checked


def piece_for(
    name: str,
    supplied: Mapping[str, Piece],
    own: Mapping[str, Piece],
    *,
    fallback: bool,
    where: str,
    keyword: str,
    framework: str,
) -> Piece:
    """The user's piece for `name`, else the framework's own if `fallback`, else ValueError.

    where: what the case asks for, e.g. "layer 2: activation" or "the loss"; keyword: the
    keyword the user's pieces of this kind were passed as, "activations" or "losses".
    """
    if name in supplied:
        return supplied[name]
    if fallback:
        return own[name]
    yours = ", ".join(supplied) or "none"
    raise ValueError(
        f"{where} {name!r} is not one of yours ({keyword} supplied: {yours}) and fallback is "
        f"False: supply {keyword}={{{name!r}: ...}}, or pass fallback=True to use {framework}'s "
        f"own, or restrict the gate to yours (--{keyword} {','.join(supplied) or '...'})"
    )


def caller_module(depth: int = 2) -> str:
    """The __name__ of the module that called the function `depth - 1` frames up.

    An adapter records it as its own __module__ (as collections.namedtuple does for the classes
    it makes), so that verification.check(adapter) finds it by the module attribute that holds
    it, and runs it isolated in a child process like any module-level function.
    """
    return sys._getframe(depth).f_globals.get("__name__", "__main__")


def name_of(piece: object) -> str:
    """A short readable name of a piece, for reprs and messages: "Tanh.apply", "MyLinear"."""
    owner = getattr(piece, "__self__", None)  # a bound method such as Function.apply
    if isinstance(owner, type):
        return f"{owner.__qualname__}.{getattr(piece, '__name__', '?')}"
    for obj in (piece, type(piece)):
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(qualname, str):
            return qualname
    return repr(piece)
