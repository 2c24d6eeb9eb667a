"""`python -m reference explain`: one step of backprop on a small network, every number printed.

    python -m reference explain [--sizes 2,2,2] [--activations sigmoid] [--loss squared_error]
                                [--seed S] [--batch N] [--alpha 0.5] [--digits 10]

prints, in the seed's notation, the inputs, the forward pass z^l and h^l, the error E, then for
l = L down to 1 each delta^l with the equation it comes from (and its factors), dE/dW^l and
dE/db^l, and the parameters after one step of gradient descent, with E before and after. Every
matrix is labelled with its shape, symbolic and numeric, so that a person can follow it with
pencil and paper.

By default the network is the 2-2-2 sigmoid network with the squared error of the classic
worked example (Matt Mazur, "A Step by Step Backpropagation Example", 2015), with its numbers.
Another network, `--seed`, or `--batch` draws the parameters and the batch from the seed
instead, rounded to two decimals so that the products stay short.

The numbers are the reference's own: reference.backprop gives z^l, h^l, E, delta^l and the
gradients, reference.gradient_descent_step the new parameters, and the loss's grad and the
activation's dphi the factors of each delta^l. The one product computed here for display is
delta^{l+1} (W^{l+1})^T, the factor that hidden_delta multiplies by phi_l'(z^l).
"""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS
from reference.network import Architecture, backprop, error, init_params
from reference.programs.command_line import CommandLineError
from reference.training import gradient_descent_step
from reference.types import Params

# What fits on a page and on paper: a wider or deeper network is no longer worked by hand.
MAX_WIDTH = 8
MAX_LAYERS = 4
MAX_BATCH = 8

DEFAULT_SIZES = (2, 2, 2)
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LOSS = "squared_error"
DEFAULT_ALPHA = 0.5  # the classic example's learning rate
DEFAULT_DIGITS = 10  # significant digits: enough to check a hand computation to ~1e-9
DRAWN_DECIMALS = 2  # parameters and batch drawn from a seed are rounded to this many decimals

# The classic worked example, in the seed's layout (row i: input neuron i, column j: neuron j).
CLASSIC_SOURCE = """the classic worked example: Matt Mazur, "A Step by Step Backpropagation
         Example" (2015). Its w1..w8 are W^1 = [[w1, w3], [w2, w4]], W^2 = [[w5, w7], [w6, w8]],
         its b1, b2 are b^1 = [b1, b1], b^2 = [b2, b2]. It keeps the biases fixed in its step,
         and so its E after the step differs from the one below; its new weights do not."""
CLASSIC_X = np.array([[0.05, 0.10]])
CLASSIC_Y = np.array([[0.01, 0.99]])
CLASSIC_PARAMS = (
    (np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35])),
    (np.array([[0.40, 0.50], [0.45, 0.55]]), np.array([0.60, 0.60])),
)

# The per-example loss and dE/dh^L of each loss, as docs/contract.md, section 3 writes them
# ({L} is L).
LOSS_FORMULAS = {
    "squared_error": ("L(h, y) = 1/2 sum_k (h_k - y_k)^2", "(h^{L} - y) / n"),
    "cross_entropy": ("L(h, y) = -log softmax(h)_y", "(softmax(h^{L}) - onehot(y)) / n"),
    "binary_cross_entropy": (
        "L(h, y) = sum_k softplus(h_k) - y_k h_k",
        "(sigma(h^{L}) - y) / n",
    ),
}


@dataclass(frozen=True)
class Example:
    """A network, its parameters, a batch, and where the numbers come from."""

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    source: str


# --- the command line's values ---------------------------------------------------------------


def sizes_type(text: str) -> tuple[int, ...]:
    """An argparse type: widths n_0,...,n_L separated by commas, e.g. "2,3,1"."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} should be the widths n_0,...,n_L separated by commas, e.g. 2,3,1"
        ) from None
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} has {len(sizes)} width, but should have n_0 and at least n_1, e.g. 2,1"
        )
    for l, n in enumerate(sizes):
        if not 1 <= n <= MAX_WIDTH:
            raise argparse.ArgumentTypeError(
                f"n_{l} = {n}, but every width should be from 1 to {MAX_WIDTH} (to fit on paper)"
            )
    if len(sizes) - 1 > MAX_LAYERS:
        raise argparse.ArgumentTypeError(
            f"{text!r} has L = {len(sizes) - 1} layers, but should have at most {MAX_LAYERS}"
        )
    return sizes


def activations_type(text: str) -> tuple[str, ...]:
    """An argparse type: one activation name for every layer, or one per layer, by commas."""
    names = tuple(name.strip() for name in text.split(","))
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown activation {', '.join(map(repr, unknown))}; valid: {','.join(ACTIVATIONS)}"
        )
    return names


def _example_arch(sizes: tuple[int, ...], activations: tuple[str, ...], loss: str) -> Architecture:
    L = len(sizes) - 1
    if len(activations) == 1:
        activations = activations * L
    if len(activations) != L:
        raise CommandLineError(
            f"--activations has {len(activations)} names, but should have one, or one per "
            f"layer: L = {L} for sizes {','.join(map(str, sizes))}"
        )
    return Architecture(sizes=sizes, activations=activations, loss=loss)


def _drawn(rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...]):
    """Uniform numbers rounded to DRAWN_DECIMALS (+ 0.0 turns a rounded -0.0 into 0.0)."""
    return np.round(rng.uniform(low, high, shape), DRAWN_DECIMALS) + 0.0


def example(
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    activations: tuple[str, ...] = (DEFAULT_ACTIVATION,),
    loss: str = DEFAULT_LOSS,
    seed: int | None = None,
    batch: int | None = None,
) -> Example:
    """The classic example when the network is 2-2-2 with squared_error and neither a seed nor
    a batch size is given; otherwise parameters and a batch of `batch` rows (default 1) drawn
    from `seed` (default 0): W^l from init_params, b^l, x and the targets uniform, all rounded.

    Raises CommandLineError if the activations do not fit the sizes.
    """
    arch = _example_arch(sizes, activations, loss)
    if sizes == DEFAULT_SIZES and loss == DEFAULT_LOSS and seed is None and batch is None:
        params = [(W.copy(), b.copy()) for W, b in CLASSIC_PARAMS]
        return Example(arch, params, CLASSIC_X.copy(), CLASSIC_Y.copy(), CLASSIC_SOURCE)
    seed = 0 if seed is None else seed
    n = 1 if batch is None else batch
    rng = np.random.default_rng(seed)
    params = [
        (np.round(W, DRAWN_DECIMALS) + 0.0, _drawn(rng, -0.5, 0.5, b.shape))
        for W, b in init_params(arch, rng)
    ]
    x = _drawn(rng, -1.0, 1.0, (n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], n)
    else:  # squared_error and binary_cross_entropy: targets in [0, 1]
        y = _drawn(rng, 0.0, 1.0, (n, sizes[-1]))
    source = (
        f"drawn from seed {seed} (W^l from init_params, b^l, x and y uniform), rounded to "
        f"{DRAWN_DECIMALS} decimals"
    )
    return Example(arch, params, x, y, source)


# --- the layout ------------------------------------------------------------------------------


def _number(v: float | int, digits: int) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


def _shape(symbols: str, a: np.ndarray) -> str:
    """ "shape (n, n_1) = (1, 2)"; a 1-d array has a trailing comma, as in Python."""
    numbers = f"({a.shape[0]},)" if a.ndim == 1 else str(tuple(a.shape))
    return f"shape {symbols} = {numbers}"


def _matrix(label: str, symbols: str, a: np.ndarray, digits: int) -> list[str]:
    """The label with the shape at the right, then one bracketed line per row (a 1-d array
    is one row), the columns right-aligned."""
    rows = np.atleast_2d(a)
    cells = [[_number(v, digits) for v in row] for row in rows]
    width = max(len(cell) for row in cells for cell in row)
    lines = [f"{label:<44} {_shape(symbols, a)}"]
    lines += ["    [ " + "  ".join(cell.rjust(width) for cell in row) + " ]" for row in cells]
    return lines


def explain(ex: Example, *, alpha: float = DEFAULT_ALPHA, digits: int = DEFAULT_DIGITS) -> str:
    """One step of backprop on `ex`, laid out in the seed's notation for pencil and paper."""
    arch, params, x, y = ex.arch, ex.params, ex.x, ex.y
    L, n = arch.L, x.shape[0]
    bp = backprop(arch, params, x, y)
    with np.errstate(over="ignore", invalid="ignore"):  # a huge alpha: reported at the end
        new_params = gradient_descent_step(params, bp.grads, alpha)
    per_example, loss_gradient = LOSS_FORMULAS[arch.loss]
    loss_gradient = loss_gradient.format(L=L)

    def phi(l: int) -> str:
        return arch.activations[l - 1]

    def block(label: str, symbols: str, a: np.ndarray) -> None:
        out.extend(_matrix(label, symbols, a, digits))

    out = [
        'One step of backprop, in the notation of "Backpropagation simply explained"',
        f"network: sizes n_0..n_L = {arch.sizes} (L = {L}), activations "
        f"{', '.join(arch.activations)}, loss {arch.loss}; batch size n = {n}",
        f"numbers: {ex.source}",
        "examples are rows; W^l: row i is input neuron i (layer l-1), column j is neuron j "
        "(layer l);",
        "* is the elementwise product, ^T the transpose; layer l is params[l - 1] in Python.",
        "",
        "== Given ==",
    ]
    block("x = h^0", "(n, n_0)", x)
    block("y", "(n,)" if arch.loss == "cross_entropy" else f"(n, n_{L})", y)
    for l in range(1, L + 1):
        W, b = params[l - 1]  # layer l is params[l - 1]
        block(f"W^{l}", f"(n_{l - 1}, n_{l})", W)
        block(f"b^{l}", f"(n_{l},)", b)

    out += ["", "== Forward pass: z^l = h^{l-1} W^l + b^l, h^l = phi_l(z^l) =="]
    for l in range(1, L + 1):
        block(f"z^{l} = h^{l - 1} W^{l} + b^{l}", f"(n, n_{l})", bp.z[l])
        block(f"h^{l} = {phi(l)}(z^{l})", f"(n, n_{l})", bp.h[l])
    out += [
        f"E = (1/n) sum_i L(h^{L}_i, y_i),  {per_example}",
        f"  = {_number(bp.E, digits)}",
        "",
        "== Backward pass: delta^l = dE/dz^l, from the output layer down ==",
        f"-- layer {L}: delta^{L} = phi_{L}'(z^{L}) * dE/dh^{L}   (output_delta)",
    ]
    block(f"dE/dh^{L} = {loss_gradient}", f"(n, n_{L})", arch.loss_function.grad(bp.h[L], y))
    for l in range(L, 0, -1):
        if l < L:
            W_next, _ = params[l]  # W^{l+1} is params[l]
            out.append(
                f"-- layer {l}: delta^{l} = phi_{l}'(z^{l}) * delta^{l + 1} (W^{l + 1})^T"
                "   (hidden_delta)"
            )
            block(f"delta^{l + 1} (W^{l + 1})^T", f"(n, n_{l})", bp.delta[l + 1] @ W_next.T)
        block(f"{phi(l)}'(z^{l})", f"(n, n_{l})", arch.activation(l).dphi(bp.z[l]))
        factor = f"dE/dh^{L}" if l == L else f"delta^{l + 1} (W^{l + 1})^T"
        block(f"delta^{l} = {phi(l)}'(z^{l}) * {factor}", f"(n, n_{l})", bp.delta[l])
        block(f"dE/dW^{l} = (h^{l - 1})^T delta^{l}", f"(n_{l - 1}, n_{l})", bp.grad_W[l])
        block(f"dE/db^{l} = 1^T delta^{l} (column sums)", f"(n_{l},)", bp.grad_b[l])

    out += [
        "",
        f"== One step of gradient descent, alpha = {alpha}: "
        "W^l - alpha dE/dW^l, b^l - alpha dE/db^l ==",
    ]
    for l in range(1, L + 1):
        W_new, b_new = new_params[l - 1]  # layer l is new_params[l - 1]
        block(f"W^{l} - alpha dE/dW^{l}", f"(n_{l - 1}, n_{l})", W_new)
        block(f"b^{l} - alpha dE/db^{l}", f"(n_{l},)", b_new)
    out.append(f"E before the step = {_number(bp.E, digits)}")
    out.append(f"E after the step  = {_E_after(arch, new_params, x, y, digits)}")
    return "\n".join(out)


def _E_after(
    arch: Architecture, params: Sequence, x: np.ndarray, y: np.ndarray, digits: int
) -> str:
    overflowed = "not finite: the step overflowed (try a smaller --alpha)"
    if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params):
        return overflowed
    with np.errstate(over="ignore", invalid="ignore"):  # E itself may overflow
        E = error(arch, params, x, y)
    return _number(E, digits) if np.isfinite(E) else overflowed
