"""The public Hypothesis strategies: valid values within their bounds, the hard regimes kept
hard, minimal examples that shrink to the smallest network, and clear argument errors."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, note, settings
from hypothesis import strategies as st

import reference
from reference import Architecture
from verification.cases import CROSS_ENTROPIES, REGIMES, Case
from verification.cases.strategies import architectures, batches, cases, parameters
from verification.tests.test_cases import (
    LARGE_LOGIT,
    TINY_GRADIENT,
    exact_kinks,
    largest_gradient,
    saturated_layers,
)

# find() shrinks to the minimal example (bounded effort, no example database)
SHRINKING = settings(database=None, max_examples=200, suppress_health_check=list(HealthCheck))


def assert_valid(case: Case) -> None:
    """The case is accepted by the reference, with a finite E and finite gradients."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        bp = reference.backprop(case.arch, case.params, case.x, case.y)
    assert np.isfinite(bp.E)
    for l in range(1, case.L + 1):
        assert np.isfinite(bp.grad_W[l]).all() and np.isfinite(bp.grad_b[l]).all(), f"layer {l}"


@given(
    architectures(
        min_depth=2,
        max_depth=3,
        min_width=2,
        max_width=4,
        activations=("relu", "tanh"),
        losses=("cross_entropy",),
    )
)
def test_architectures_stay_within_their_bounds_and_names(arch: Architecture) -> None:
    assert 2 <= arch.L <= 3
    assert all(2 <= n_l <= 4 for n_l in arch.sizes)
    assert set(arch.activations) <= {"relu", "tanh"} and arch.loss == "cross_entropy"


@given(st.data())
def test_parameters_have_the_layer_shapes_and_bounded_float64_entries(data: st.DataObject) -> None:
    arch = data.draw(architectures(max_depth=3, max_width=5), label="arch")
    params = data.draw(parameters(arch, max_magnitude=2.5), label="params")
    assert len(params) == arch.L
    for l, (W, b) in enumerate(params, start=1):  # layer l is params[l - 1]
        assert W.shape == (arch.sizes[l - 1], arch.sizes[l]) and b.shape == (arch.sizes[l],)
        for a in (W, b):
            assert a.dtype == np.float64 and (np.abs(a) <= 2.5).all()
            assert not ((a != 0) & (np.abs(a) < np.finfo(np.float64).tiny)).any()  # subnormal


@given(st.data())
def test_batches_are_valid_input_for_the_loss_of_the_architecture(data: st.DataObject) -> None:
    arch = data.draw(architectures(max_depth=2, max_width=4), label="arch")
    params = data.draw(parameters(arch), label="params")
    x, y = data.draw(batches(arch, min_batch=2, max_batch=3), label="(x, y)")
    assert 2 <= x.shape[0] <= 3 and x.shape[1] == arch.sizes[0]
    if arch.loss == "cross_entropy":
        assert y.dtype == np.int64 and ((y >= 0) & (y < arch.sizes[-1])).all()
    reference.gradients(arch, params, x, y)  # raises on a y the contract rejects


@given(cases(min_depth=2, max_depth=3, max_width=5, min_batch=2, max_batch=3))
def test_cases_are_valid_and_within_their_bounds(case: Case) -> None:
    note(case.describe())
    assert 2 <= case.L <= 3 and max(case.arch.sizes) <= 5 and 2 <= case.n <= 3
    assert case.regime in REGIMES and case.seed is None and case.index is None
    assert_valid(case)


@given(cases(max_depth=3, max_width=6, regimes=("saturated",)))
def test_saturated_cases_stay_saturated(case: Case) -> None:
    note(case.describe())
    assert saturated_layers(case)
    assert_valid(case)


@given(cases(max_depth=3, max_width=6, regimes=("kinks",)))
def test_kink_cases_stay_exactly_at_a_kink(case: Case) -> None:
    note(case.describe())
    assert exact_kinks(case)
    assert_valid(case)


@given(cases(max_depth=3, max_width=6, regimes=("large_logits",)))
def test_large_logit_cases_keep_their_large_logits(case: Case) -> None:
    note(case.describe())
    h_L = reference.forward(case.arch, case.params, case.x).h[case.L]
    assert case.arch.loss in CROSS_ENTROPIES and np.abs(h_L).max() >= LARGE_LOGIT
    assert_valid(case)


@given(cases(max_depth=3, max_width=6, regimes=("tiny_gradients",)))
def test_tiny_gradient_cases_keep_their_gradients_tiny(case: Case) -> None:
    note(case.describe())
    assert largest_gradient(case) <= TINY_GRADIENT


@given(cases(max_depth=3, max_width=6, regimes=("zero_inputs",)))
def test_zero_input_cases_keep_a_zero_row_or_column_of_x(case: Case) -> None:
    note(case.describe())
    assert (case.x == 0).all(axis=0).any() or (case.x == 0).all(axis=1).any()
    assert_valid(case)


def test_cases_shrink_to_fewest_layers_narrowest_widths_smallest_batch_and_zeros() -> None:
    small = cases(max_depth=2, max_width=2, max_batch=2)
    case = find(small, lambda case: case.L >= 2 and case.n >= 2, settings=SHRINKING)
    assert (case.L, case.arch.sizes, case.n, case.regime) == (2, (1, 1, 1), 2, "plain"), case
    assert case.arch.activations == ("identity", "identity") and case.arch.loss == "squared_error"
    assert not case.x.any() and not any(W.any() or b.any() for W, b in case.params), case


def test_a_hard_case_shrinks_to_a_minimal_case_that_is_still_hard() -> None:
    small = cases(max_depth=2, max_width=2, max_batch=2, regimes=("kinks",))
    case = find(small, lambda case: case.L >= 2, settings=SHRINKING)
    assert case.L == 2 and case.arch.sizes == (1, 1, 1) and case.n == 1, case
    assert exact_kinks(case), case


# --- argument checks ------------------------------------------------------------------------

ARCH = Architecture((2, 3), ("tanh",), "squared_error")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: architectures(min_depth=0), ValueError, "min_depth = 0, but should be an int"),
        (
            lambda: architectures(min_depth=3, max_depth=2),
            ValueError,
            "min_depth = 3, but should be <= max_depth = 2",
        ),
        (
            lambda: architectures(min_width=5, max_width=4),
            ValueError,
            "min_width = 5, but should be <= max_width = 4",
        ),
        (lambda: architectures(max_width=1.5), ValueError, "max_width = 1.5, but should be an int"),
        (lambda: architectures(activations=("swish",)), ValueError, "'swish' is unknown"),
        (lambda: architectures(losses=()), ValueError, "losses is empty"),
        (
            lambda: architectures(activations=None, losses=7),
            TypeError,
            "losses has type int, but should be a name",
        ),
        (lambda: parameters("arch"), TypeError, "arch has type str, but should be a reference"),
        (lambda: parameters(ARCH, max_magnitude=0), ValueError, "max_magnitude = 0, but should"),
        (lambda: parameters(ARCH, max_magnitude=math.inf), ValueError, "max_magnitude = inf"),
        (lambda: batches(ARCH, min_batch=0), ValueError, "min_batch = 0, but should be an int"),
        (
            lambda: batches(ARCH, min_batch=3, max_batch=2),
            ValueError,
            "min_batch = 3, but should be <= max_batch = 2",
        ),
        (lambda: batches(None), TypeError, "arch has type NoneType"),
        (lambda: cases(min_batch=9), ValueError, "min_batch = 9, but should be <= max_batch = 8"),
        (lambda: cases(regimes=("hard",)), ValueError, "'hard' is unknown; valid names: plain"),
        (
            lambda: cases(activations=("tanh",), regimes=("kinks",)),
            ValueError,
            "no regime can be drawn: regime kinks needs one of the activations relu",
        ),
    ],
)
def test_strategies_reject_bad_arguments_when_built(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()
