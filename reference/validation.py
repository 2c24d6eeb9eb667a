"""Checks of the caller's input, each error naming the layer, the quantity and the shapes.

Nothing here copies or modifies an argument: arrays already of the compute dtype pass through
untouched (np.asarray), others are converted into new arrays.
"""

from collections.abc import Sequence

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Array, Params

REAL_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
COMPLEX_DTYPE = np.dtype(np.complex128)


def check_names(activations: Sequence[str], loss: str) -> None:
    """Every activation and the loss must be a name of CONTRACT sections 2 and 3."""
    for l, name in enumerate(activations, start=1):
        if name not in ACTIVATIONS:
            raise ValueError(
                f"layer {l}: activation {name!r} is unknown; valid names: {', '.join(ACTIVATIONS)}"
            )
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is unknown; valid names: {', '.join(LOSSES)}")


def _first_non_finite(a: np.ndarray) -> tuple[int, ...] | None:
    if np.isfinite(a).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


def check_finite(a: np.ndarray, what: str) -> None:
    """Raise ValueError naming `what` and the first index if `a` holds NaN or Inf."""
    where = _first_non_finite(a)
    if where is not None:
        count = int((~np.isfinite(a)).sum())
        raise ValueError(
            f"{what} holds {a[where]} at index {list(where)} ({count} non-finite entries); "
            "every entry should be finite"
        )


def _compute_dtype(params: Params, x: np.ndarray, allow_complex: bool) -> np.dtype:
    """The dtype of the parameters decides: float64, float32 or (forward only) complex128."""
    allowed = REAL_DTYPES + ((COMPLEX_DTYPE,) if allow_complex else ())
    for l, layer in enumerate(params, start=1):
        for symbol, a in zip("Wb", layer, strict=True):
            if a.dtype not in allowed:
                names = ", ".join(str(d) for d in allowed)
                raise TypeError(f"layer {l}: {symbol} has dtype {a.dtype}, but should be {names}")
    if x.dtype.kind == "c" or any(a.dtype.kind == "c" for layer in params for a in layer):
        if not allow_complex:
            raise TypeError("complex input is accepted by forward() and error() only")
        return COMPLEX_DTYPE
    dtype = params[0][0].dtype
    for l, layer in enumerate(params, start=1):
        for symbol, a in zip("Wb", layer, strict=True):
            if a.dtype != dtype:
                raise TypeError(
                    f"layer {l}: {symbol} has dtype {a.dtype}, but layer 1's W has {dtype}; "
                    "give every parameter the same dtype"
                )
    return dtype


def _as_params(params: object, sizes: tuple[int, ...]) -> Params:
    L = len(sizes) - 1
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)):
        raise TypeError(
            f"params has type {type(params).__name__}, but should be a list of {L} (W, b) pairs"
        )
    if len(params) != L:
        raise ValueError(
            f"params has {len(params)} layers, but should have L = {L} for sizes {sizes}"
        )
    arrays = []
    for l, layer in enumerate(params, start=1):
        if not isinstance(layer, Sequence) or len(layer) != 2:
            raise TypeError(f"layer {l}: params[{l - 1}] should be a pair (W, b)")
        W, b = (np.asarray(a) for a in layer)
        # layer l is params[l - 1]: W^l maps h^{l-1} (width sizes[l - 1]) to width sizes[l]
        if W.shape != (sizes[l - 1], sizes[l]):
            raise ValueError(
                f"layer {l}: W has shape {W.shape}, but should be {(sizes[l - 1], sizes[l])} "
                f"to map h^{l - 1} of width {sizes[l - 1]} to h^{l} of width {sizes[l]}"
            )
        if b.shape != (sizes[l],):
            raise ValueError(
                f"layer {l}: b has shape {b.shape}, but should be ({sizes[l]},) to match "
                f"h^{l} of width {sizes[l]}"
            )
        arrays.append((W, b))
    return arrays


def check_inputs(
    sizes: tuple[int, ...],
    loss: str,
    params: object,
    x: object,
    y: object | None,
    *,
    allow_complex: bool = False,
) -> tuple[Params, Array, np.ndarray | None]:
    """Validate (params, x, y) for a network of these sizes and loss; return them as arrays.

    The compute dtype is the parameters' (float64 or float32; complex128 if allowed); x, and y
    for the float-valued losses, are brought to it. Raises ValueError or TypeError otherwise.
    """
    params = _as_params(params, sizes)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(
            f"x has shape {x.shape}, but should be (n, {sizes[0]}): one row per example, "
            f"n_0 = {sizes[0]} inputs"
        )
    if x.shape[0] == 0:
        raise ValueError(f"x has shape {x.shape}: the batch is empty; give at least one row")
    if x.dtype.kind not in "fciub":
        raise TypeError(f"x has dtype {x.dtype}, but should be float64")
    dtype = _compute_dtype(params, x, allow_complex)
    x = np.asarray(x, dtype=dtype)
    check_finite(x, "x")
    for l, (W, b) in enumerate(params, start=1):
        check_finite(W, f"layer {l}: W")
        check_finite(b, f"layer {l}: b")
    if y is not None:
        y = np.asarray(y)
        LOSSES[loss].check_targets(y, x.shape[0], sizes[-1])
        check_finite(y, "y")
        if y.dtype.kind == "f" or loss != "cross_entropy":
            y = np.asarray(y, dtype=dtype if dtype.kind == "f" else np.float64)
    return params, x, y
