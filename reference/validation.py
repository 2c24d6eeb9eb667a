"""Checks of the caller's input, each error naming the layer, the quantity and the shapes.

Nothing here copies or modifies an argument: arrays already of the compute dtype pass through
untouched (np.asarray), others are converted into new arrays.

check_inputs runs on every call of forward, error, backprop and gradients, so it has two paths.
The fast path accepts the common case (NumPy arrays of one float dtype, the right shapes, finite
entries, valid targets) in one cheap pass of exact type and shape tests and a few reductions; it
never raises. Anything it does not recognise as valid goes to the detailed checks, which find
what is wrong and say so. The fast path must therefore accept nothing the detailed checks reject
(reference/tests/test_bad_input.py sends every bad input through both).
"""

import math
from collections.abc import Sequence

import numpy as np

from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.types import Array, Params

REAL_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
COMPLEX_DTYPE = np.dtype(np.complex128)
_LABEL_DTYPE = np.dtype(np.int64)


def check_names(activations: Sequence[str], loss: str) -> None:
    """Every activation and the loss must be a name of docs/contract.md, sections 2 and 3."""
    for l, name in enumerate(activations, start=1):
        if name not in ACTIVATIONS:
            raise ValueError(
                f"layer {l}: activation {name!r} is unknown; valid names: {', '.join(ACTIVATIONS)}"
            )
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is unknown; valid names: {', '.join(LOSSES)}")


def check_finite(a: np.ndarray, what: str) -> None:
    """Raise ValueError naming `what`, its shape and the first index if `a` holds NaN or Inf."""
    finite = np.isfinite(a)
    if finite.all():
        return
    where = tuple(int(i) for i in np.argwhere(~finite)[0])
    count = int(finite.size - np.count_nonzero(finite))
    raise ValueError(
        f"{what} of shape {a.shape} holds {a[where]} at index {list(where)} "
        f"({count} non-finite entries); every entry should be finite"
    )


# --- the fast path --------------------------------------------------------------------------


def _accept_quickly(
    sizes: tuple[int, ...], loss: str, params: object, x: object, y: object | None
) -> tuple[Params, Array, np.ndarray | None] | None:
    """(params, x, y) unchanged if they are plainly valid; None to send them to the checks.

    Plainly valid: params a list or tuple of L (W, b) pairs and x, y NumPy arrays (exact types,
    no subclasses), every parameter and x of one dtype, float64 or float32, with the shapes of
    docs/contract.md, section 1; a non-empty batch; finite entries; targets the loss accepts, y
    of the parameters' dtype for the float-valued losses and int64 labels for cross_entropy.
    """
    if type(params) not in (list, tuple) or len(params) != len(sizes) - 1:
        return None
    if type(x) is not np.ndarray or x.ndim != 2:
        return None
    n, n_0 = x.shape
    dtype = x.dtype
    if n == 0 or n_0 != sizes[0] or dtype not in REAL_DTYPES:
        return None
    # The sum of squares of every entry is NaN or Inf if any entry is; it can also overflow
    # for finite entries past ~1e154 (1e19 in float32), which only costs the detailed checks.
    squares = float(np.vdot(x, x))
    checked = []
    for l, layer in enumerate(params, start=1):
        if type(layer) not in (tuple, list) or len(layer) != 2:
            return None
        W, b = layer
        if type(W) is not np.ndarray or type(b) is not np.ndarray:
            return None
        # layer l is params[l - 1]: W^l is (n_{l-1}, n_l), b^l is (n_l,)
        if W.dtype != dtype or b.dtype != dtype:
            return None
        if W.shape != (sizes[l - 1], sizes[l]) or b.shape != (sizes[l],):
            return None
        squares += float(np.vdot(W, W)) + float(np.vdot(b, b))
        checked.append((W, b))
    if not math.isfinite(squares):
        return None
    if y is None:
        return checked, x, None
    if type(y) is not np.ndarray:
        return None
    n_L = sizes[-1]
    if loss == "squared_error":
        if y.shape != (n, n_L) or y.dtype != dtype or not math.isfinite(float(np.vdot(y, y))):
            return None
    elif loss == "binary_cross_entropy":
        if y.shape != (n, n_L) or y.dtype != dtype:
            return None
        # a NaN makes both comparisons false
        if not (np.minimum.reduce(y, axis=None) >= 0 and np.maximum.reduce(y, axis=None) <= 1):
            return None
    elif loss == "cross_entropy":
        if y.shape != (n,) or y.dtype != _LABEL_DTYPE:
            return None
        # Seen as unsigned, a negative label is at least 2^63: one maximum tests 0 <= y < n_L.
        if not np.maximum.reduce(y.view(np.uint64)) < n_L:
            return None
    else:
        return None
    return checked, x, y


# --- the detailed checks --------------------------------------------------------------------


def _compute_dtype(params: Params, x: np.ndarray, allow_complex: bool) -> np.dtype:
    """The dtype of the parameters decides: float64, float32 or (forward only) complex128."""
    allowed = REAL_DTYPES + ((COMPLEX_DTYPE,) if allow_complex else ())
    names = ", ".join(str(d) for d in allowed)
    for l, layer in enumerate(params, start=1):
        for symbol, a in zip("Wb", layer, strict=True):
            if a.dtype not in allowed:
                hint = (
                    "; complex parameters are accepted by forward() and error() only"
                    if a.dtype.kind == "c"
                    else ""
                )
                raise TypeError(
                    f"layer {l}: {symbol} of shape {a.shape} has dtype {a.dtype}, "
                    f"but should be one of {names}{hint}"
                )
    if x.dtype.kind == "c" and not allow_complex:
        raise TypeError(
            f"x of shape {x.shape} has dtype {x.dtype}, but should be real for layer 1: "
            "complex input is accepted by forward() and error() only"
        )
    if x.dtype.kind == "c" or any(a.dtype.kind == "c" for layer in params for a in layer):
        # a complex step may perturb one parameter only: real and complex mix freely here
        return COMPLEX_DTYPE
    W_1 = params[0][0]
    dtype = W_1.dtype
    for l, layer in enumerate(params, start=1):
        for symbol, a in zip("Wb", layer, strict=True):
            if a.dtype != dtype:
                raise TypeError(
                    f"layer {l}: {symbol} of shape {a.shape} has dtype {a.dtype}, but layer 1's "
                    f"W of shape {W_1.shape} has {dtype}; give every parameter the same dtype"
                )
    return dtype


def _as_params(params: object, sizes: tuple[int, ...]) -> Params:
    L = len(sizes) - 1
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)):
        raise TypeError(
            f"params has type {type(params).__name__}, but should be a list of L = {L} (W, b) "
            f"pairs for sizes {sizes}"
        )
    if len(params) != L:
        raise ValueError(
            f"params has {len(params)} layers, but should have L = {L} for sizes {sizes}"
        )
    arrays = []
    for l, layer in enumerate(params, start=1):
        if not isinstance(layer, Sequence) or isinstance(layer, (str, bytes)) or len(layer) != 2:
            raise TypeError(
                f"layer {l}: params[{l - 1}] has type {type(layer).__name__}, but should be a "
                f"pair (W, b) of shapes {(sizes[l - 1], sizes[l])} and ({sizes[l]},)"
            )
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


def _check_x(x: np.ndarray, sizes: tuple[int, ...]) -> None:
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(
            f"x has shape {x.shape}, but should be (n, {sizes[0]}): one row per example, "
            f"n_0 = {sizes[0]} inputs, the rows of layer 1's W of shape {(sizes[0], sizes[1])}"
        )
    if x.shape[0] == 0:
        raise ValueError(
            f"x has shape {x.shape}: the batch is empty, but E is a mean over the rows; "
            "give at least one row"
        )
    if x.dtype.kind not in "fciub":
        raise TypeError(f"x of shape {x.shape} has dtype {x.dtype}, but should be float64")


def _check_y(y: np.ndarray, loss: str, sizes: tuple[int, ...], n: int) -> None:
    """The loss's own target check, its message completed with the output layer and h^L."""
    L = len(sizes) - 1
    try:
        LOSSES[loss].check_targets(y, n, sizes[-1])
        check_finite(y, "y")
    except (ValueError, TypeError) as e:
        raise type(e)(
            f"{e} [output layer L = {L}: h^{L} has shape {(n, sizes[-1])}; "
            f"{loss} takes targets {LOSSES[loss].targets}]"
        ) from None


def _check_in_detail(
    sizes: tuple[int, ...],
    loss: str,
    params: object,
    x: object,
    y: object | None,
    allow_complex: bool,
) -> tuple[Params, Array, np.ndarray | None]:
    params = _as_params(params, sizes)
    x = np.asarray(x)
    _check_x(x, sizes)
    dtype = _compute_dtype(params, x, allow_complex)
    x = np.asarray(x, dtype=dtype)
    check_finite(x, "x (h^0, the input of layer 1)")
    for l, (W, b) in enumerate(params, start=1):
        check_finite(W, f"layer {l}: W")
        check_finite(b, f"layer {l}: b")
    if y is not None:
        y = np.asarray(y)
        _check_y(y, loss, sizes, x.shape[0])
        if y.dtype.kind == "f" or loss != "cross_entropy":
            y = np.asarray(y, dtype=dtype if dtype.kind == "f" else np.float64)
    return params, x, y


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
    for the float-valued losses, are brought to it. Raises ValueError or TypeError otherwise,
    naming the layer (1..L), the quantity, its shape and what was expected.
    """
    accepted = _accept_quickly(sizes, loss, params, x, y)
    if accepted is not None:
        return accepted
    return _check_in_detail(sizes, loss, params, x, y, allow_complex)
