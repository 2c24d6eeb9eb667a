"""The multi-layer perceptron: its architecture, parameters, forward pass and backward pass.

One function per equation of the seed, in its matrix form (examples are rows):

    z^l     = h^{l-1} W^l + b^l                      pre_activation
    h^l     = phi_l(z^l)                              activate
    delta^L = phi_L'(z^L) * dE/dh^L                   output_delta
    delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T   hidden_delta
    dE/dW^l = (h^{l-1})^T delta^l                     weight_gradient
    dE/db^l = 1^T delta^l                             bias_gradient

The traces are dicts keyed by the layer number l, so that `z[l]` is z^l and `h[0]` is x, as in
the seed. Only `params` is a list, where layer l is params[l - 1] (docs/contract.md, section 1).

Performance (benchmarks/bench_backprop.py measures it): the matrix products go to NumPy's BLAS,
which uses every core. The elementwise steps, phi_l(z^l) and the product by phi_l'(z^l), are
done on blocks of rows: the same values (they are elementwise), with each block's temporaries
in cache and no full-size phi_l'(z^l) ever held; on large arrays the blocks run in parallel
threads, since NumPy's ufuncs release the GIL. gradients() frees z^l and h^l as soon as the
backward pass is past them, so its peak memory stays near the trace it must keep.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss
from reference.row_blocks import ROW_BLOCK_ENTRIES, each_row_block
from reference.types import Array, Params
from reference.validation import check_inputs, check_names


@dataclass(frozen=True)
class Architecture:
    """Widths n_0..n_L, one activation name per layer 1..L, and the loss.

    `Architecture(sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error")` is
    a network with 2 inputs, one hidden layer of 3 tanh units and one linear output.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str

    def __post_init__(self) -> None:
        if isinstance(self.activations, str):
            raise TypeError(
                f"activations is the string {self.activations!r}, but should be a sequence "
                "of one name per layer, e.g. ('tanh', 'identity')"
            )
        sizes = tuple(self.sizes)
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"sizes[{i}] = {n!r}, but every width should be an int >= 1")
        if len(sizes) < 2:
            raise ValueError(
                f"sizes = {sizes}, but should hold n_0 and at least n_1 (L >= 1 layers)"
            )
        activations = tuple(self.activations)
        if len(activations) != len(sizes) - 1:
            raise ValueError(
                f"activations has {len(activations)} names, but should have one per layer: "
                f"L = {len(sizes) - 1} for sizes {sizes}"
            )
        check_names(activations, self.loss)
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        object.__setattr__(self, "activations", activations)

    @property
    def L(self) -> int:
        """The number of layers (L = 1 means no hidden layer)."""
        return len(self.sizes) - 1

    def activation(self, l: int) -> Activation:
        """phi_l and dphi_l of layer l (1..L)."""
        return ACTIVATIONS[self.activations[l - 1]]

    @property
    def loss_function(self) -> Loss:
        return LOSSES[self.loss]

    @property
    def parameter_count(self) -> int:
        """sum over l of n_{l-1} n_l + n_l."""
        return sum(m * n + n for m, n in pairwise(self.sizes))


def init_params(
    arch: Architecture, rng: np.random.Generator, *, dtype: type = np.float64
) -> Params:
    """W^l with entries drawn from N(0, 1/n_{l-1}) (LeCun's scale) and b^l = 0.

    The caller passes the generator, e.g. numpy.random.default_rng(0): no global state.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng has type {type(rng).__name__}, but should be a numpy.random.Generator, "
            "e.g. numpy.random.default_rng(seed)"
        )
    return [
        (
            (rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype),
            np.zeros(n, dtype=dtype),
        )
        for m, n in pairwise(arch.sizes)
    ]


# --- the equations --------------------------------------------------------------------------


def activate(z: Array, phi: Callable[[Array], Array]) -> Array:
    """h^l = phi_l(z^l), elementwise, computed block by block of rows.

    Shapes: z (n, n_l) -> (n, n_l).
    """
    if z.size <= ROW_BLOCK_ENTRIES:
        return phi(z)  # one block: no copy (identity's h^L is z^L itself)
    h = np.empty_like(z)

    def block(rows: slice) -> None:
        h[rows] = phi(z[rows])

    each_row_block(block, z)
    return h


def pre_activation(h_prev: Array, W: Array, b: Array) -> Array:
    """z^l = h^{l-1} W^l + b^l.

    Shapes: h_prev (n, n_{l-1}), W (n_{l-1}, n_l), b (n_l,) -> (n, n_l).
    """
    z = h_prev @ W
    z += b
    return z


def output_delta(z: Array, dphi: Callable[[Array], Array], dE_dh: Array) -> Array:
    """delta^L = phi_L'(z^L) * dE/dh^L.

    Shapes: z (n, n_L), dE_dh (n, n_L) -> (n, n_L).
    """
    delta = dphi(z)
    delta *= dE_dh
    return delta


def hidden_delta(
    delta_next: Array, W_next: Array, z: Array, dphi: Callable[[Array], Array]
) -> Array:
    """delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T.

    Shapes: delta_next (n, n_{l+1}), W_next (n_l, n_{l+1}), z (n, n_l) -> (n, n_l).
    The product by phi_l'(z^l) is done in place, block by block of rows, so that no full-size
    phi_l'(z^l) is ever held.
    """
    delta = delta_next @ W_next.T

    def block(rows: slice) -> None:
        delta_rows = delta[rows]  # a view: the product lands in delta itself
        delta_rows *= dphi(z[rows])

    each_row_block(block, delta)
    return delta


def weight_gradient(h_prev: Array, delta: Array) -> Array:
    """dE/dW^l = (h^{l-1})^T delta^l.

    Shapes: h_prev (n, n_{l-1}), delta (n, n_l) -> (n_{l-1}, n_l), the shape of W^l.
    """
    return h_prev.T @ delta


def bias_gradient(delta: Array) -> Array:
    """dE/db^l = 1^T delta^l, the column sums of delta^l.

    Shapes: delta (n, n_l) -> (n_l,), the shape of b^l.
    """
    return delta.sum(axis=0)


# --- the passes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """The forward trace: h[l] = h^l for l = 0..L (h[0] = x), z[l] = z^l for l = 1..L."""

    h: dict[int, Array]
    z: dict[int, Array]


@dataclass(frozen=True)
class Backprop:
    """Everything one backprop computes, keyed by the layer number l as in the seed.

    E: the error (batch mean of the loss), a scalar.
    h[l] = h^l (n, n_l) for l = 0..L;  z[l] = z^l (n, n_l) for l = 1..L;
    delta[l] = delta^l = dE/dz^l (n, n_l);  grad_W[l] = dE/dW^l (n_{l-1}, n_l);
    grad_b[l] = dE/db^l (n_l,), all for l = 1..L.
    """

    E: np.floating
    h: dict[int, Array]
    z: dict[int, Array]
    delta: dict[int, Array]
    grad_W: dict[int, Array]
    grad_b: dict[int, Array]

    @property
    def grads(self) -> Params:
        """[(dE/dW^l, dE/db^l) for l = 1..L], the list of docs/contract.md, section 4."""
        return [(self.grad_W[l], self.grad_b[l]) for l in sorted(self.grad_W)]


def _forward(arch: Architecture, params: Params, x: Array) -> Forward:
    h, z = {0: x}, {}
    for l in range(1, arch.L + 1):
        W, b = params[l - 1]  # layer l is params[l - 1]
        z[l] = pre_activation(h[l - 1], W, b)
        h[l] = activate(z[l], arch.activation(l).phi)
    return Forward(h, z)


def _backward(
    arch: Architecture, params: Params, trace: Forward, dE_dh: Array
) -> Iterator[tuple[int, Array, Array, Array]]:
    """Yield (l, delta^l, dE/dW^l, dE/db^l) for l = L down to 1."""
    h, z = trace.h, trace.z
    delta = output_delta(z[arch.L], arch.activation(arch.L).dphi, dE_dh)
    for l in range(arch.L, 0, -1):
        yield l, delta, weight_gradient(h[l - 1], delta), bias_gradient(delta)
        if l > 1:
            W, _ = params[l - 1]  # W^l, which carries delta^l back to layer l - 1
            delta = hidden_delta(delta, W, z[l - 1], arch.activation(l - 1).dphi)


def forward(arch: Architecture, params: Sequence, x: Array) -> Forward:
    """The forward pass h^l = phi_l(h^{l-1} W^l + b^l), keeping every h^l and z^l.

    Accepts float64, float32 (computes in float32) and complex128 (for complex steps).
    """
    params, x, _ = check_inputs(arch.sizes, arch.loss, params, x, None, allow_complex=True)
    return _forward(arch, params, x)


def error(arch: Architecture, params: Sequence, x: Array, y: np.ndarray) -> np.number:
    """E = (1/n) sum_i L(h^L_i, y_i). Accepts complex params or x for complex steps."""
    params, x, y = check_inputs(arch.sizes, arch.loss, params, x, y, allow_complex=True)
    return arch.loss_function.value(_forward(arch, params, x).h[arch.L], y)


def backprop(arch: Architecture, params: Sequence, x: Array, y: np.ndarray) -> Backprop:
    """Forward pass, E, and the backward pass: every quantity of the seed in one result."""
    params, x, y = check_inputs(arch.sizes, arch.loss, params, x, y)
    trace = _forward(arch, params, x)
    h_L = trace.h[arch.L]
    delta, grad_W, grad_b = {}, {}, {}
    for l, delta_l, grad_W_l, grad_b_l in _backward(
        arch, params, trace, arch.loss_function.grad(h_L, y)
    ):
        delta[l], grad_W[l], grad_b[l] = delta_l, grad_W_l, grad_b_l
    E = arch.loss_function.value(h_L, y)
    return Backprop(E, trace.h, trace.z, delta, grad_W, grad_b)


def gradients(arch: Architecture, params: Sequence, x: Array, y: np.ndarray) -> Params:
    """[(dE/dW^l, dE/db^l) for l = 1..L]: a gradient implementation in the sense of
    docs/contract.md, section 4.

    The same computation as backprop(), keeping only the gradients: each delta^l is dropped
    once delta^{l-1} is computed, and z^l, h^l once the backward pass is past layer l.
    """
    params, x, y = check_inputs(arch.sizes, arch.loss, params, x, y)
    trace = _forward(arch, params, x)
    grads: Params = [None] * arch.L  # type: ignore[list-item]
    for l, delta_l, grad_W_l, grad_b_l in _backward(
        arch, params, trace, arch.loss_function.grad(trace.h[arch.L], y)
    ):
        grads[l - 1] = (grad_W_l, grad_b_l)  # layer l is grads[l - 1]
        # delta^l, z^l (for delta^l) and h^l (for dE/dW^{l+1}) are spent: free them now
        del delta_l, trace.z[l], trace.h[l]
    return grads
