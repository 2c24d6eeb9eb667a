"""Hypothesis strategies for property tests of gradient code: architectures, parameters,
batches, and whole cases with the gate's hard regimes.

    from hypothesis import given
    from verification.cases.strategies import cases

    @given(cases(max_depth=3, losses=("squared_error",)))
    def test_my_gradients_match_the_reference(case):
        ...  # compare my_gradients(case.arch, case.params, case.x, case.y) with the reference

Every choice is drawn locally, so a failing example shrinks towards fewer layers, narrower
widths, a smaller batch, the first names (identity, squared_error, the plain regime) and
simpler values (0 first). A Case prints every value in full, so the minimal example reads
as a complete, rebuildable input.

cases() runs the generator of verification.cases (the one behind the gate's draw_case) with
Hypothesis as its source of randomness: the regimes place their units (at a kink, saturated,
with large logits) from whatever values Hypothesis draws, so they stay hard while shrinking.
"""

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis.strategies import SearchStrategy

from reference import ACTIVATIONS, LOSSES, Architecture, Params
from verification.cases.case import Case
from verification.cases.draw import build_case, draw_architecture
from verification.cases.options import REGIMES, CaseSpace, check_range
from verification.cases.source import T

NORMAL_BOUND = 4.0  # the stand-in for N(0, 1) draws: floats in [-4, 4], shrinking to 0
# No subnormal values: below 2^-1022 float64 loses relative precision, and a comparison of
# gradients made of such values would judge rounding, not the gradient code.
ALLOW_SUBNORMAL = False


class HypothesisSource:
    """The Source of verification.cases (see cases.Source), drawing from Hypothesis.

    Weights and probabilities are ignored: Hypothesis explores the ends of each range by
    itself, and shrinks towards the least value, the first option and False.
    """

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def regime(self, regimes: Sequence[str]) -> str:
        return self.draw(st.sampled_from(regimes))

    def size(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def sizes(self, count: tuple[int, int], bounds: tuple[int, int]) -> list[int]:
        return self.draw(st.lists(st.integers(*bounds), min_size=count[0], max_size=count[1]))

    def choices(self, options: Sequence[T], count: int) -> list[T]:
        return self.draw(st.lists(st.sampled_from(options), min_size=count, max_size=count))

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        return self.draw(st.booleans())

    def log_uniform(self, lo: float, hi: float) -> float:
        return self.draw(st.floats(lo, hi))

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.draw(_float_arrays(shape, -NORMAL_BOUND, NORMAL_BOUND))

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.draw(_float_arrays(shape, 0.0, 1.0))

    def integers(self, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
        return self.draw(arrays(np.int64, shape, elements=st.integers(lo, hi)))

    def mask(self, shape: tuple[int, ...], p: float) -> np.ndarray:
        return self.draw(arrays(np.bool_, shape, elements=st.booleans()))


def _float_arrays(shape: tuple[int, ...], lo: float, hi: float) -> SearchStrategy[np.ndarray]:
    elements = st.floats(lo, hi, allow_nan=False, allow_subnormal=ALLOW_SUBNORMAL)
    return arrays(np.float64, shape, elements=elements)


def _space(
    depth: tuple[int, int],
    width: tuple[int, int],
    batch: tuple[int, int],
    activations: Sequence[str] | None,
    losses: Sequence[str] | None,
    regimes: Sequence[str] | None,
    output_activations: Sequence[str] | None = None,
) -> CaseSpace:
    """The validated bounds and names (CaseSpace raises ValueError or TypeError)."""
    return CaseSpace(
        depth=depth,
        width=width,
        batch=batch,
        activations=tuple(ACTIVATIONS) if activations is None else activations,
        losses=tuple(LOSSES) if losses is None else losses,
        regimes=REGIMES if regimes is None else regimes,
        outputs=output_activations,
    )


def _check_architecture(arch: object) -> Architecture:
    if not isinstance(arch, Architecture):
        raise TypeError(
            f"arch has type {type(arch).__name__}, but should be a reference.Architecture"
        )
    return arch


def _check_magnitude(max_magnitude: object) -> float:
    if (
        isinstance(max_magnitude, bool)
        or not isinstance(max_magnitude, (int, float, np.floating))
        or not math.isfinite(max_magnitude)
        or max_magnitude <= 0
    ):
        raise ValueError(f"max_magnitude = {max_magnitude!r}, but should be a finite number > 0")
    return float(max_magnitude)


def architectures(
    *,
    min_depth: int = 1,
    max_depth: int = 6,
    min_width: int = 1,
    max_width: int = 16,
    activations: Sequence[str] | None = None,
    losses: Sequence[str] | None = None,
    output_activations: Sequence[str] | None = None,
) -> SearchStrategy[Architecture]:
    """Architectures with L in min_depth..max_depth, every n_l in min_width..max_width, one
    activation per layer and a loss from the given names (default: all of them); the output
    layer's from `output_activations` if given."""
    space = _space(
        (min_depth, max_depth),
        (min_width, max_width),
        (1, 1),
        activations,
        losses,
        None,
        output_activations,
    )

    @st.composite
    def draw_architectures(draw: st.DrawFn) -> Architecture:
        arch, _, _ = draw_architecture(HypothesisSource(draw), space)
        return arch

    return draw_architectures()


def parameters(arch: Architecture, *, max_magnitude: float = 10.0) -> SearchStrategy[Params]:
    """[(W^l, b^l) for l = 1..L], float64, W^l (n_{l-1}, n_l) and b^l (n_l,), every entry in
    [-max_magnitude, max_magnitude]; entries shrink towards 0."""
    arch = _check_architecture(arch)
    M = _check_magnitude(max_magnitude)
    layers = [
        st.tuples(_float_arrays((m, n), -M, M), _float_arrays((n,), -M, M))
        for m, n in zip(arch.sizes[:-1], arch.sizes[1:], strict=True)
    ]
    return st.tuples(*layers).map(list)


def batches(
    arch: Architecture, *, min_batch: int = 1, max_batch: int = 8, max_magnitude: float = 10.0
) -> SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """(x, y) for arch: x float64 (n, n_0) with n in min_batch..max_batch and entries in
    [-max_magnitude, max_magnitude]; y as docs/contract.md, section 3 asks for arch.loss (float
    (n, n_L); int64 labels (n,) in [0, n_L); floats (n, n_L) in [0, 1])."""
    arch = _check_architecture(arch)
    M = _check_magnitude(max_magnitude)
    n_lo, n_hi = check_range("batch", min_batch, max_batch)
    n_0, n_L = arch.sizes[0], arch.sizes[-1]

    @st.composite
    def draw_batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
        n = draw(st.integers(n_lo, n_hi))
        x = draw(_float_arrays((n, n_0), -M, M))
        if arch.loss == "cross_entropy":
            y = draw(arrays(np.int64, (n,), elements=st.integers(0, n_L - 1)))
        elif arch.loss == "binary_cross_entropy":
            y = draw(_float_arrays((n, n_L), 0.0, 1.0))
        else:
            y = draw(_float_arrays((n, n_L), -M, M))
        return x, y

    return draw_batches()


def cases(
    *,
    min_depth: int = 1,
    max_depth: int = 6,
    min_width: int = 1,
    max_width: int = 16,
    min_batch: int = 1,
    max_batch: int = 8,
    activations: Sequence[str] | None = None,
    losses: Sequence[str] | None = None,
    regimes: Sequence[str] | None = None,
    output_activations: Sequence[str] | None = None,
) -> SearchStrategy[Case]:
    """Whole cases (verification.cases.Case) as the gate draws them, hard regimes included.

    `activations` serve every layer unless `output_activations` restricts the output layer
    apart. `regimes` restricts them (default: all of REGIMES); those the names make
    impossible are dropped, and if none is left, ValueError says what is missing.
    """
    space = _space(
        (min_depth, max_depth),
        (min_width, max_width),
        (min_batch, max_batch),
        activations,
        losses,
        regimes,
        output_activations,
    )

    @st.composite
    def draw_cases(draw: st.DrawFn) -> Case:
        return build_case(HypothesisSource(draw), space)

    return draw_cases()
