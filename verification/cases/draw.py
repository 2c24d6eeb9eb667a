"""Random cases for the gate, reproducible from one seed: an architecture, parameters, a batch.

Case `index` of the stream `seed` is drawn from its own generator,
numpy.random.default_rng([seed, index]), so each case is independent of the others: it can be
regenerated from (seed, index, options) alone, and workers can split a stream between them.

How each regime of verification.cases.options is drawn:

    saturated       units of saturating activations whose pre-activations z^l have magnitude
                    20 to 500 (some layers saturated on every unit)
    kinks           units of kinked activations exactly at their kink, z^l_ij == 0, in layers
                    whose z^l is computed exactly (see _dyadic_layer for how)
    zero_inputs     whole rows and columns of x equal to 0, zero rows and columns in W^l, b^l = 0
    large_logits    logits h^L of magnitude 1e3 to 1e6, for the cross-entropies
    tiny_gradients  every dE/dW^l and dE/db^l below about 1e-30: the output nearly fits y, or
                    the output units are saturated

Depth, widths and batch size take their least value (1 by default) with a real share of the
cases (source.SMALL_SHARE), so that L = 1, width 1 and batch 1 are met often.

The same generator, fed by Hypothesis instead of NumPy, is behind
verification.cases.strategies: it draws every choice and array from a Source.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from reference import ACTIVATIONS, Architecture, Params
from verification.cases.case import Case
from verification.cases.options import (
    CROSS_ENTROPIES,
    EXACT,
    KINKED,
    SATURATING,
    UNBOUNDED,
    CaseOptions,
    CaseSpace,
    space_of,
)
from verification.cases.source import NumpySource, Source

SATURATION = (20.0, 500.0)  # |z| of a saturated unit: tanh'(20) ~ 2e-17, sigma'(20) ~ 2e-9
LARGE_LOGIT = (1e3, 1e6)  # |h^L| reached by at least one output unit in large_logits
# tiny_gradients: phi_L' or the loss gradient is below e^-80 ~ 2e-35, which leaves room for the
# factors |h^{l-1}| and |W^l| of a plain network on the way to dE/dW^l ~ 1e-30.
TINY_TAIL = (80.0, 700.0)  # |z^L| for tanh, sigmoid, softplus, elu; the logit margin
TINY_GELU_TAIL = (11.0, 35.0)  # -z^L for gelu_tanh: phi'(-11) ~ 1e-46; past 40 it is exactly 0
TINY_SCALE = (1e-60, 1e-36)  # the scale of W^L, b^L and h^L - y for squared_error

PLAIN_GAIN = (0.5, 2.0)  # W^l = gain N(0, 1/n_{l-1}): from shrinking to growing signals
PLAIN_BIAS = 0.5  # the standard deviation of b^l
SATURATED_GAIN = (1.0, 30.0)  # a saturated layer's W^l also spreads z^l across the rows

# kinks: x, W^l, b^l are small integers over 2 (see _dyadic_layer)
DYADIC_X = 4  # x = k / 2 with |k| <= 4
DYADIC_W = 2  # W = k / 2 with |k| <= 2
DYADIC_B = 4  # b = k / 2 with |k| <= 4
# b_j placed to push |z_ij| past a magnitude is made 2^-48 larger (relative): the roundings of
# b_j, of h^{l-1} W^l (in any summation order over up to ~16 terms) and of z_ij take at most a
# few times 2^-53 of it, so |z_ij| stays at or beyond the magnitude.
ROUNDING_MARGIN = 2.0**-48
FLOAT64_EXACT = 2.0**52  # below 2^53, multiples of 2^-k keep exact up to 2^(53-k): one bit spare


# --- the shape of a case: regime, architecture, batch size ----------------------------------


@dataclass(frozen=True)
class Shape:
    """Everything about a case but its numbers.

    exact_layers: kinks only, the layers 1..k whose z^l is computed exactly (0 otherwise).
    saturated: saturated only, the layers (1..L) driven into saturation.
    """

    regime: str
    arch: Architecture
    n: int
    exact_layers: int = 0
    saturated: tuple[int, ...] = ()


def exact_depth(sizes: Sequence[int]) -> int:
    """How many layers of dyadic inputs and parameters (_dyadic_layer) stay exact in float64.

    x is a multiple of 1/2 with |x| <= 2, W of 1/2 with |W| <= 1, so z^l is a multiple of
    2^-(l+1). Every partial sum of h^{l-1} W^l + b^l is bounded by B_l = 2 n_{l-1} B_{l-1} + 2
    (a planted b_j is minus one of the sums), B_0 = 2; it is exact while B_l 2^(l+1) < 2^53
    (FLOAT64_EXACT keeps one bit to spare).
    """
    bound = DYADIC_X / 2
    for l in range(1, len(sizes)):
        bound = 2 * sizes[l - 1] * bound + DYADIC_B / 2
        if bound * 2.0 ** (l + 1) > FLOAT64_EXACT:
            return l - 1
    return len(sizes) - 1


def draw_architecture(
    source: Source, space: CaseSpace, regime: str = "plain"
) -> tuple[Architecture, int, tuple[int, ...]]:
    """An architecture fit for `regime`, and its exact_layers and saturated layers (Shape)."""
    losses = space.losses
    if regime == "large_logits":
        losses = tuple(loss for loss in losses if loss in CROSS_ENTROPIES)
    loss = source.choice(losses)
    # n_0..n_L as one list, whose length sets L: Hypothesis shrinks L by deleting widths
    sizes = tuple(source.sizes((space.depth[0] + 1, space.depth[1] + 1), space.width))
    L = len(sizes) - 1
    outputs = space.outputs or space.activations
    activations = source.choices(space.activations, L - 1)
    if regime == "large_logits":
        activations.append(source.choice(space.allowed(UNBOUNDED, output=True)))
    elif "identity" in outputs and source.chance(0.5):
        activations.append("identity")  # the usual output layer
    else:
        activations.append(source.choice(outputs))

    exact_layers, saturated = 0, ()
    if regime == "kinks":
        kinked_hidden, kinked_output = space.allowed(KINKED), space.allowed(KINKED, output=True)
        if L == 1 and not kinked_output:
            sizes, activations = _with_hidden_layer(source, space, sizes, activations)
            L = 2
        carriers = space.allowed(EXACT)
        # the kink sits in layer exact_layers, lowest..deepest, with carriers below it
        lowest = 1 if kinked_hidden else L
        deepest = min(L if kinked_output else L - 1, exact_depth(sizes))
        if lowest > max(deepest, 1) or (lowest > 1 and not carriers):
            # only the output may hold the kink, and the layers below cannot stay exact
            sizes, activations, L = (sizes[0], sizes[-1]), activations[-1:], 1
            lowest = deepest = 1
        exact_layers = 1
        if carriers and L > 1:
            exact_layers = source.integer(lowest, max(lowest, deepest))
        for l in range(1, exact_layers):
            activations[l - 1] = source.choice(carriers)
        activations[exact_layers - 1] = source.choice(
            space.allowed(KINKED, output=exact_layers == L)
        )
    elif regime == "saturated":
        saturated = tuple(
            l for l in range(1, L + 1) if activations[l - 1] in SATURATING and source.chance(0.75)
        )
        if not saturated:
            in_output = bool(space.allowed(SATURATING, output=True))
            if L == 1 and not in_output:
                sizes, activations = _with_hidden_layer(source, space, sizes, activations)
                L = 2
            lowest, highest = (1, L) if space.allowed(SATURATING) else (L, L)
            l = source.integer(lowest, highest if in_output else L - 1)
            activations[l - 1] = source.choice(space.allowed(SATURATING, output=l == L))
            saturated = (l,)
    return Architecture(sizes, tuple(activations), loss), exact_layers, saturated


def _with_hidden_layer(
    source: Source, space: CaseSpace, sizes: tuple[int, ...], activations: list[str]
) -> tuple[tuple[int, ...], list[str]]:
    """A network of one layer given a hidden layer below its output, for a regime that only
    the hidden activations can serve (when output_activations leaves it out)."""
    width = source.size(*space.width)
    return (sizes[0], width, *sizes[1:]), [source.choice(space.activations), *activations]


def draw_shape(source: Source, space: CaseSpace) -> Shape:
    regime = source.regime(space.regimes)
    n = source.size(*space.batch)
    arch, exact_layers, saturated = draw_architecture(source, space, regime)
    return Shape(regime, arch, n, exact_layers, saturated)


# --- the numbers ----------------------------------------------------------------------------


def _log_uniform(source: Source, shape: tuple[int, ...], bounds: tuple[float, float]) -> np.ndarray:
    lo, hi = bounds
    return lo * (hi / lo) ** source.uniform(shape)


def _signs(source: Source, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(source.mask(shape, 0.5), 1.0, -1.0)


def _at_least_one(source: Source, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        mask[source.integer(0, mask.size - 1)] = True
    return mask


def targets(source: Source, loss: str, n: int, width: int) -> np.ndarray:
    """y valid for `loss` (docs/contract.md, section 3): N(0, 1) for squared_error; labels in
    [0, width) for cross_entropy; for binary_cross_entropy a third each of exact 0, exact 1
    and fractions in [0, 1)."""
    if loss == "cross_entropy":
        return source.integers((n,), 0, width - 1).astype(np.int64)
    if loss == "binary_cross_entropy":
        kind = source.integers((n, width), 0, 2)
        return np.where(kind == 0, 0.0, np.where(kind == 1, 1.0, source.uniform((n, width))))
    return source.normal((n, width))


def _inputs(source: Source, shape: Shape) -> np.ndarray:
    """x (n, n_0): dyadic for kinks; with zero rows, columns and entries for zero_inputs."""
    n, n_0 = shape.n, shape.arch.sizes[0]
    if shape.exact_layers:
        return source.integers((n, n_0), -DYADIC_X, DYADIC_X) / 2
    x = source.normal((n, n_0))
    if shape.regime == "zero_inputs":
        rows, columns = source.mask((n,), 0.25), source.mask((n_0,), 0.3)
        if not (rows.any() or columns.any()):
            columns[source.integer(0, n_0 - 1)] = True
        x[rows] = 0.0
        x[:, columns] = 0.0
        x[source.mask((n, n_0), 0.15)] = 0.0
    return x


def _gaussian_layer(source: Source, m: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """W^l = gain N(0, 1/n_{l-1}) (LeCun's scale times a gain), b^l = N(0, PLAIN_BIAS^2)."""
    gain = source.log_uniform(*PLAIN_GAIN)
    return source.normal((m, width)) * (gain / np.sqrt(m)), source.normal((width,)) * PLAIN_BIAS


def _zero_out(source: Source, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Zero rows of W^l (inputs a layer ignores), zero columns (units fed by b^l alone), and
    sometimes b^l = 0. Changes W in place; returns b."""
    W[source.mask((W.shape[0],), 0.2)] = 0.0
    W[:, source.mask((W.shape[1],), 0.2)] = 0.0
    return np.zeros_like(b) if source.chance(0.5) else b


def _dyadic_layer(
    source: Source, h_prev: np.ndarray, width: int, kinked: bool
) -> tuple[np.ndarray, np.ndarray]:
    """W^l and b^l for a layer whose z^l = h^{l-1} W^l + b^l is computed exactly.

    How exactness is ensured: x, W^l and b^l are small integers over 2 (DYADIC_*), and the
    layers before this one are identity or relu, which map a multiple of 2^-k to a multiple of
    2^-k. So every product and partial sum in z^l is a multiple of 2^-(l+1) far below 2^53
    times that (exact_depth bounds them): float64 holds each exactly, in any summation order,
    with or without fused multiply-add. Only the last exact layer may be leaky_relu or elu,
    whose outputs 0.01 z and e^z - 1 are not dyadic.

    If the layer's activation has a kink, some columns j get b_j = -(h^{l-1} W^l)_ij for a
    random row i, which puts z^l_ij exactly at the kink 0.
    """
    W = source.integers((h_prev.shape[1], width), -DYADIC_W, DYADIC_W) / 2
    b = source.integers((width,), -DYADIC_B, DYADIC_B) / 2
    if kinked:
        hW = h_prev @ W
        planted = _at_least_one(source, source.mask((width,), 0.5))
        rows = source.integers((width,), 0, h_prev.shape[0] - 1)
        b = np.where(planted, -hW[rows, np.arange(width)], b)
    return W, b


def _drive(hW: np.ndarray, magnitudes: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """b with |z_ij| = |hW_ij + b_j| >= magnitudes_j, on the side of signs_j, for every row:
    b_j = signs_j (magnitudes_j + max_i |hW_ij|) (1 + ROUNDING_MARGIN).

    Shapes: hW (n, n_l), the others (n_l,).
    """
    return signs * ((magnitudes + np.abs(hW).max(axis=0)) * (1 + ROUNDING_MARGIN))


def _saturated_layer(
    source: Source, h_prev: np.ndarray, W: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Drive all units of the layer (half the time) or some of them to |z| in SATURATION."""
    width = W.shape[1]
    W = W * source.log_uniform(*SATURATED_GAIN)
    hW = h_prev @ W
    if source.chance(0.5):
        columns = np.ones(width, dtype=bool)
    else:
        columns = _at_least_one(source, source.mask((width,), 0.6))
    magnitudes = _log_uniform(source, (width,), SATURATION)
    return W, np.where(columns, _drive(hW, magnitudes, _signs(source, (width,))), b)


def _large_logits_layer(
    source: Source, h_prev: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The output layer with logits up to S in LARGE_LOGIT, across rows and columns.

    W^L is scaled so that h^{L-1} W^L reaches S (never by more than S, so that a near-zero
    h^{L-1} cannot blow W^L up), b^L is uniform in [-S, S], and one output unit j gets
    z^L_ij >= S on every row, so that h^L_ij >= 1e3 for any unbounded output activation.
    """
    width = W.shape[1]
    S = source.log_uniform(*LARGE_LOGIT)
    W = W * (S / max(np.abs(h_prev @ W).max(), 1.0))
    hW = h_prev @ W
    b = S * (2 * source.uniform((width,)) - 1)
    j = source.integer(0, width - 1)
    b[j] = (S + np.abs(hW[:, j]).max()) * (1 + ROUNDING_MARGIN)
    return W, b


def _tiny_gradient_layer(
    source: Source, shape: Shape, h_prev: np.ndarray, W: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The output layer (W^L, b^L) and y (None: any valid y) such that dE/dz^L is tiny.

    - tanh, sigmoid: every output unit saturated, |z^L| in TINY_TAIL, so phi_L' <= e^-80;
    - softplus, elu, gelu_tanh: every z^L far in the flat negative tail;
    - identity, relu, leaky_relu: the output nearly fits y. For squared_error W^L, b^L and
      h^L - y are of order TINY_SCALE; for the cross-entropies the logits favour the targets
      by a margin in TINY_TAIL, so softmax - onehot and sigma - y are below e^-80.
    """
    arch = shape.arch
    name, width = arch.activations[-1], arch.sizes[-1]
    hW = h_prev @ W
    if ACTIVATIONS[name].saturates:
        tail = TINY_GELU_TAIL if name == "gelu_tanh" else TINY_TAIL
        bounded = not ACTIVATIONS[name].unbounded  # tanh, sigmoid: saturated on both sides
        signs = _signs(source, (width,)) if bounded else -np.ones(width)
        return W, _drive(hW, _log_uniform(source, (width,), tail), signs), None
    if arch.loss == "squared_error":
        t = source.log_uniform(*TINY_SCALE)
        W, b = W * t, b * t
        h_L = ACTIVATIONS[name].phi(h_prev @ W + b)
        return W, b, h_L + (0.1 * t) * source.normal(h_L.shape)
    margins = _log_uniform(source, (width,), TINY_TAIL)
    if arch.loss == "cross_entropy":
        # label j on every row; z_ij >= margin + the largest other logit, so h_ij = z_ij
        j = source.integer(0, width - 1)
        others = np.delete(ACTIVATIONS[name].phi(hW + b), j, axis=1)
        top = max(others.max(), 0.0) if others.size else 0.0
        b = b.copy()
        b[j] = margins[j] + top - hW[:, j].min()
        return W, b, np.full(shape.n, j, dtype=np.int64)
    # binary_cross_entropy: each column's logits on one side (positive for relu-like units,
    # whose negative side is flat or scaled by 0.01), with targets 1 or 0 to match
    signs = _signs(source, (width,)) if name == "identity" else np.ones(width)
    y = np.broadcast_to((signs > 0).astype(np.float64), (shape.n, width)).copy()
    return W, _drive(hW, margins, signs), y


def draw_numbers(source: Source, shape: Shape) -> tuple[Params, np.ndarray, np.ndarray]:
    """params, x and y for a case of this shape and regime."""
    arch, regime = shape.arch, shape.regime
    x = _inputs(source, shape)
    h = x  # h^{l-1}, needed by the regimes that place z^l (not by plain and zero_inputs)
    tracks_h = regime not in ("plain", "zero_inputs")
    params: Params = []
    y = None
    for l in range(1, arch.L + 1):
        m, width = arch.sizes[l - 1], arch.sizes[l]
        if l <= shape.exact_layers:
            W, b = _dyadic_layer(source, h, width, arch.activations[l - 1] in KINKED)
        else:
            W, b = _gaussian_layer(source, m, width)
            if regime == "zero_inputs":
                b = _zero_out(source, W, b)
            elif l in shape.saturated:
                W, b = _saturated_layer(source, h, W, b)
            elif l == arch.L and regime == "large_logits":
                W, b = _large_logits_layer(source, h, W)
            elif l == arch.L and regime == "tiny_gradients":
                W, b, y = _tiny_gradient_layer(source, shape, h, W, b)
        params.append((W, b))
        if tracks_h and l < arch.L:
            h = arch.activation(l).phi(h @ W + b)
    if y is None:
        y = targets(source, arch.loss, shape.n, arch.sizes[-1])
    return params, x, y


def build_case(
    source: Source, space: CaseSpace, seed: int | None = None, index: int | None = None
) -> Case:
    """One case drawn from `source` within `space`."""
    shape = draw_shape(source, space)
    params, x, y = draw_numbers(source, shape)
    return Case(shape.arch, params, x, y, shape.regime, seed, index)


# --- the public entry points ----------------------------------------------------------------


DEFAULT_OPTIONS = CaseOptions()  # the gate's defaults: every name, L <= 6, n_l <= 16, n <= 8


def _check_seed(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} = {value!r}, but should be an int >= 0")
    return int(value)


def draw_case(seed: int, index: int, options: CaseOptions = DEFAULT_OPTIONS) -> Case:
    """Case `index` of the stream `seed`: the same (seed, index, options) give the same case.

    Its generator is numpy.random.default_rng([seed, index]), independent of every other
    index, so any case of a stream can be drawn alone.
    """
    seed, index = _check_seed("seed", seed), _check_seed("index", index)
    if not isinstance(options, CaseOptions):
        raise TypeError(f"options has type {type(options).__name__}, but should be CaseOptions")
    source = NumpySource(np.random.default_rng([seed, index]))
    return build_case(source, space_of(options), seed, index)


def draw_cases(
    seed: int,
    count: int,
    options: CaseOptions = DEFAULT_OPTIONS,
) -> Iterator[Case]:
    """Cases 0..count-1 of the stream `seed`, the same as draw_case(seed, i, options)."""
    seed, count = _check_seed("seed", seed), _check_seed("count", count)
    if not isinstance(options, CaseOptions):
        raise TypeError(f"options has type {type(options).__name__}, but should be CaseOptions")
    return (draw_case(seed, index, options) for index in range(count))
