"""E is a batch MEAN: E = (1/n) sum_i L(h^L_i, y_i).

So the gradient of a batch is the mean of the one-example gradients, and neither E nor its
gradient changes when the rows of (x, y) are permuted or the whole batch is repeated. Two
computations of the same exact value differ by at most the sum of their rounding allowances
(verification.oracles.tolerance for the gradients, property_tests.rounding for E).
"""

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_gradients_within, assert_within, error_allowance, u
from verification.cases import Case
from verification.cases.strategies import cases
from verification.oracles.precision import gamma
from verification.oracles.tolerance import allowance


def _summed(allowances: list) -> list:
    return [
        (sum(a[l][0] for a in allowances), sum(a[l][1] for a in allowances))
        for l in range(len(allowances[0]))
    ]


def _same_error_and_gradients(
    impl: Implementation, case: Case, x: np.ndarray, y: np.ndarray, what: str
) -> None:
    """E and the gradients on (x, y) equal those on the case's batch, within both allowances."""
    arch, params = case.arch, case.params
    E, E_other = impl.error(arch, params, case.x, case.y), impl.error(arch, params, x, y)
    assert_within(
        f"E {what}",
        E_other,
        E,
        error_allowance(arch, params, case.x, case.y) + error_allowance(arch, params, x, y),
    )
    grads = impl.gradients(arch, params, case.x, case.y)
    grads_other = impl.gradients(arch, params, x, y)
    assert_gradients_within(
        what,
        grads_other,
        grads,
        _summed([allowance(arch, params, case.x, case.y), allowance(arch, params, x, y)]),
    )


def check_gradient_is_mean_of_example_gradients(impl: Implementation, case: Case) -> None:
    """dE/dtheta of the batch = (1/n) sum_i dL_i/dtheta, the gradients of the n one-row batches."""
    arch, params = case.arch, case.params
    rows = [(case.x[i : i + 1], case.y[i : i + 1]) for i in range(case.n)]
    per_example = [impl.gradients(arch, params, x, y) for x, y in rows]
    mean = [
        (
            np.mean([g[l][0] for g in per_example], axis=0),
            np.mean([g[l][1] for g in per_example], axis=0),
        )
        for l in range(case.L)
    ]
    # each one-row gradient within its allowance, so their mean within the mean allowance,
    # plus the rounding of the mean itself: gamma_n of the mean of |gradients|, and the 1/n
    row_allowances = [allowance(arch, params, x, y) for x, y in rows]
    mean_rounding = [
        tuple(
            (gamma(case.n, u) + 2 * u) * np.mean([np.abs(g[l][k]) for g in per_example], axis=0)
            for k in range(2)
        )
        for l in range(case.L)
    ]
    allowed = _summed(
        [
            allowance(arch, params, case.x, case.y),
            [(a_W / case.n, a_b / case.n) for a_W, a_b in _summed(row_allowances)],
            mean_rounding,
        ]
    )
    grads = impl.gradients(arch, params, case.x, case.y)
    assert_gradients_within(
        "the batch gradient against the mean of the one-row gradients", grads, mean, allowed
    )


def check_row_order_is_irrelevant(impl: Implementation, case: Case, order: list[int]) -> None:
    """E and its gradient are unchanged when the rows of (x, y) are permuted together."""
    _same_error_and_gradients(
        impl, case, case.x[order], case.y[order], f"with the rows in the order {order}"
    )


def check_repeated_batch_is_irrelevant(impl: Implementation, case: Case) -> None:
    """E and its gradient are unchanged when the batch is repeated: (x; x), (y; y)."""
    x, y = np.concatenate([case.x, case.x]), np.concatenate([case.y, case.y])
    _same_error_and_gradients(impl, case, x, y, "with the batch repeated twice")


BATCH_CASES = cases(max_depth=3, max_width=5, max_batch=5)


@st.composite
def row_orders(draw: st.DrawFn) -> tuple[Case, list[int]]:
    """A case and a permutation of its rows."""
    case = draw(BATCH_CASES, label="case")
    return case, draw(st.permutations(range(case.n)), label="order")


@given(BATCH_CASES)
def test_batch_gradient_is_mean_of_example_gradients(case: Case) -> None:
    note(case.describe())
    check_gradient_is_mean_of_example_gradients(REFERENCE, case)


@given(row_orders())
def test_row_order_leaves_error_and_gradients_unchanged(scenario: tuple[Case, list[int]]) -> None:
    case, order = scenario
    note(f"{case.describe()}; rows in the order {order}")
    check_row_order_is_irrelevant(REFERENCE, case, order)


@given(BATCH_CASES)
def test_repeated_batch_leaves_error_and_gradients_unchanged(case: Case) -> None:
    note(case.describe())
    check_repeated_batch_is_irrelevant(REFERENCE, case)
