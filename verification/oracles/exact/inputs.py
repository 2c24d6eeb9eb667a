"""What the exact witness reads of a case (ArchitectureLike) and the checks of params, x and y
against it: ValueError or TypeError naming the layer, the quantity and the shapes."""

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from verification.oracles.exact.activations import ACTIVATIONS
from verification.oracles.exact.losses import LOSSES


class ArchitectureLike(Protocol):
    """What the witness reads of an architecture (docs/contract.md, section 4)."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str


def _float_array(what: str, a: object, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{what} has type {kind}, but should be a float64 array of shape {shape}")
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}, but should be {shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} has NaN or infinite entries; the exact witness needs finite ones")
    return a


def check_inputs(
    arch: ArchitectureLike, params: Sequence[Any], x: np.ndarray, y: np.ndarray
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """params, x and y checked against arch; ValueError or TypeError naming what is wrong."""
    sizes, names, loss = tuple(arch.sizes), tuple(arch.activations), arch.loss
    L = len(sizes) - 1
    if L < 1 or len(names) != L:
        raise ValueError(
            f"arch has sizes {sizes} and {len(names)} activations: need L >= 1 of each"
        )
    for l, name in enumerate(names, start=1):
        if name not in ACTIVATIONS:
            raise ValueError(
                f"layer {l}: activation {name!r} is unknown; valid: {', '.join(ACTIVATIONS)}"
            )
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is unknown; valid: {', '.join(LOSSES)}")
    if len(params) != L:
        raise ValueError(f"params has {len(params)} layers, but should have L = {L}")
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x should be a float64 array of shape (n, {sizes[0]}) with n >= 1")
    x = _float_array("x", x, (x.shape[0], sizes[0]))
    n = x.shape[0]
    checked = []
    for l, (W, b) in enumerate(params, start=1):  # params[l - 1] is layer l
        W = _float_array(f"layer {l}: W", W, (sizes[l - 1], sizes[l]))
        b = _float_array(f"layer {l}: b", b, (sizes[l],))
        checked.append((W, b))
    if loss == "cross_entropy":
        if not isinstance(y, np.ndarray) or y.shape != (n,) or y.dtype.kind not in "iu":
            raise ValueError(f"y should be an integer array of shape ({n},) for cross_entropy")
        if ((y < 0) | (y >= sizes[-1])).any():
            raise ValueError(f"y should hold labels in [0, {sizes[-1]}) for cross_entropy")
        return checked, x, y
    y = _float_array("y", y, (n, sizes[-1]))
    if loss == "binary_cross_entropy" and ((y < 0) | (y > 1)).any():
        raise ValueError("y should lie in [0, 1] for binary_cross_entropy")
    return checked, x, y
