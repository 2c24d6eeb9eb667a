"""The seed's remark on convexity.

With no hidden layer and an identity output, E is convex in (W, b) for every loss: along the
segment between two parameter sets E stays below the chord. With a hidden layer it is not:
swapping two hidden neurons gives a second parameter set with the same E, and their midpoint
(where the two neurons are merged into one average) can have a higher E.
"""

import pytest
from hypothesis import find, given, note
from hypothesis import strategies as st

from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import error_allowance, u
from property_tests.search import SEARCH, passes
from property_tests.test_symmetries import permuted
from property_tests.theta import along, magnitude_inner
from reference import LOSSES, Params, gradients
from verification.cases import Case
from verification.cases.strategies import cases, parameters


def _E(impl: Implementation, case: Case, params: Params) -> float:
    return float(impl.error(case.arch, params, case.x, case.y))


def _rounding(case: Case, params: Params) -> float:
    """E's allowance at params, plus params themselves rounded (|d theta| <= u |theta|)."""
    g = gradients(case.arch, params, case.x, case.y)
    return error_allowance(case.arch, params, case.x, case.y) + u * magnitude_inner(g, params)


def check_single_layer_error_is_convex(
    impl: Implementation, case: Case, other: Params, t: float
) -> None:
    """E(t theta + (1 - t) theta') <= t E(theta) + (1 - t) E(theta'), L = 1, identity output."""
    if case.L != 1 or case.arch.activations != ("identity",):
        raise ValueError("this property applies only to L = 1 with an identity output")
    between = along(
        [(t * W, t * b) for W, b in case.params],
        [((1 - t) * W, (1 - t) * b) for W, b in other],
        1.0,
    )
    E_t = _E(impl, case, between)
    chord = t * _E(impl, case, case.params) + (1 - t) * _E(impl, case, other)
    allowed = (
        _rounding(case, between)
        + t * _rounding(case, case.params)
        + (1 - t) * _rounding(case, other)
        + 3 * u * abs(chord)  # the chord's two products and a sum
    )
    if not E_t <= chord + allowed:
        raise AssertionError(
            f"E at t = {t} between two parameter sets = {E_t:.17g}, but should be at most the "
            f"chord {chord:.17g} (allowed {allowed:.3g} above it)"
        )


def swapped(params: Params, l: int, j: int, k: int) -> Params:
    """Neurons j and k of hidden layer l exchanged: columns of W^l and b^l, rows of W^{l+1}."""
    order = list(range(params[l - 1][0].shape[1]))
    order[j], order[k] = k, j
    return permuted(params, l, order)


def check_swap_shows_non_convexity(
    impl: Implementation, case: Case, l: int, j: int, k: int
) -> None:
    """E(theta') = E(theta) for theta' = theta with neurons j, k of layer l swapped, and
    E((theta + theta') / 2) > E(theta): E is not convex."""
    params = swapped(case.params, l, j, k)
    middle = [
        ((W + W2) / 2, (b + b2) / 2) for (W, b), (W2, b2) in zip(case.params, params, strict=True)
    ]
    E, E_swapped, E_middle = (_E(impl, case, p) for p in (case.params, params, middle))
    allowed = _rounding(case, case.params) + _rounding(case, params)
    if not abs(E_swapped - E) <= allowed:
        raise AssertionError(
            f"E with neurons {j} and {k} of layer {l} swapped = {E_swapped:.17g}, but should be "
            f"E = {E:.17g} (allowed {allowed:.3g})"
        )
    if not E_middle > max(E, E_swapped) + _rounding(case, middle) + allowed:
        raise AssertionError(
            f"E at the midpoint = {E_middle:.17g}, but should exceed E = {E:.17g} at both ends"
        )


@st.composite
def segments(draw: st.DrawFn) -> tuple[Case, Params, float]:
    """A case with L = 1 and an identity output, a second parameter set, and t in (0, 1)."""
    case = draw(
        cases(max_depth=1, max_width=5, max_batch=5, activations=("identity",)), label="case"
    )
    other = draw(parameters(case.arch, max_magnitude=4.0), label="other")
    t = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), label="t")
    return case, other, t


@st.composite
def neuron_swaps(draw: st.DrawFn, **bounds: object) -> tuple[Case, int, int, int]:
    """A case with a hidden layer l of width >= 2, and two of its neurons j != k. `bounds`
    go to verification.cases.strategies.cases."""
    bounds = {
        "min_depth": 2,
        "max_depth": 3,
        "min_width": 2,
        "max_width": 4,
        "max_batch": 4,
        "regimes": ("plain",),
        **bounds,
    }
    case = draw(cases(**bounds), label="case")
    l = draw(st.integers(1, case.L - 1), label="l")
    j, k = draw(st.permutations(range(case.arch.sizes[l])), label="order")[:2]
    return case, l, j, k


@given(segments())
def test_single_layer_error_is_convex_for_every_loss(scenario: tuple[Case, Params, float]) -> None:
    case, other, t = scenario
    note(f"{case.describe()}; t = {t}")
    check_single_layer_error_is_convex(REFERENCE, case, other, t)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_hidden_layer_makes_error_non_convex(loss: str) -> None:
    exhibit = find(
        neuron_swaps(losses=(loss,)),
        lambda s: passes(check_swap_shows_non_convexity, REFERENCE, s),
        settings=SEARCH,
    )
    case, l, j, k = exhibit
    check_swap_shows_non_convexity(REFERENCE, case, l, j, k)
