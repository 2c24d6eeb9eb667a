"""The seed's equations hold on the trace of one backprop:

    dE/dW^l = (h^{l-1})^T delta^l
    dE/db^l = 1^T delta^l
    delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    delta^L = phi_L'(z^L) * dE/dh^L

Each right-hand side is recomputed here from the trace's own h, z and delta, so the two sides
differ only by the rounding of the last operation (and of phi' and dE/dh^L, which another
correct implementation may compute by another formula): the allowance is the sum of the two
computations' bounds, from verification.oracles.tolerance.
"""

import numpy as np
from hypothesis import given, note

from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_within, product_rounding, slope_error
from reference import ACTIVATIONS, LOSSES
from verification.cases import Case
from verification.cases.strategies import cases
from verification.oracles.precision import FLOAT64
from verification.oracles.tolerance import loss_gradient_bound, scaled_product_bound

BOTH_SIDES = 2
"""Each side of an equation is one float64 computation of the same exact value, within the
bound of verification.oracles.tolerance of it: the sides may differ by twice the bound."""


def check_weight_gradient_is_h_transpose_delta(impl: Implementation, case: Case) -> None:
    """dE/dW^l = (h^{l-1})^T delta^l on the trace, for l = 1..L."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    for l in range(1, case.L + 1):
        h_prev, delta = bp.h[l - 1], bp.delta[l]
        allowed = BOTH_SIDES * product_rounding(h_prev.T, delta)
        assert_within(
            f"layer {l}: dE/dW^{l} against (h^{l - 1})^T delta^{l}",
            bp.grad_W[l],
            h_prev.T @ delta,
            allowed,
        )


def check_bias_gradient_is_column_sum_of_delta(impl: Implementation, case: Case) -> None:
    """dE/db^l = 1^T delta^l, the column sums of delta^l, for l = 1..L."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    for l in range(1, case.L + 1):
        delta = bp.delta[l]
        ones = np.ones((1, case.n))
        allowed = BOTH_SIDES * product_rounding(ones, delta)[0]
        assert_within(
            f"layer {l}: dE/db^{l} against 1^T delta^{l}", bp.grad_b[l], delta.sum(axis=0), allowed
        )


def check_hidden_delta_recursion(impl: Implementation, case: Case) -> None:
    """delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T, for l = 1..L-1."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    for l in range(1, case.L):
        W_next = case.params[l][0]  # W^{l+1} is params[l]
        activation = case.arch.activation(l)
        z, delta_next = bp.z[l], bp.delta[l + 1]
        r = delta_next @ W_next.T
        e_r = product_rounding(delta_next, W_next.T)
        dphi = activation.dphi(z)
        allowed = BOTH_SIDES * scaled_product_bound(
            dphi, slope_error(activation.name, z), r, e_r, FLOAT64
        )
        assert_within(
            f"layer {l}: delta^{l} against phi_{l}'(z^{l}) * delta^{l + 1} (W^{l + 1})^T",
            bp.delta[l],
            dphi * r,
            allowed,
        )


def check_output_delta(impl: Implementation, case: Case) -> None:
    """delta^L = phi_L'(z^L) * dE/dh^L, with dE/dh^L of the loss (docs/contract.md, section 3)."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    L = case.L
    activation = case.arch.activation(L)
    z, h_L = bp.z[L], bp.h[L]
    g = LOSSES[case.arch.loss].grad(h_L, case.y)
    _, e_g = loss_gradient_bound(case.arch.loss, h_L, np.zeros_like(h_L), case.y, 0.0, FLOAT64)
    dphi = ACTIVATIONS[activation.name].dphi(z)
    allowed = BOTH_SIDES * scaled_product_bound(
        dphi, slope_error(activation.name, z), g, e_g, FLOAT64
    )
    assert_within(
        f"layer {L}: delta^{L} against phi_{L}'(z^{L}) * dE/dh^{L}", bp.delta[L], dphi * g, allowed
    )


EQUATION_CASES = cases(max_depth=4, max_width=6, max_batch=6)


@given(EQUATION_CASES)
def test_weight_gradient_is_h_transpose_delta(case: Case) -> None:
    note(case.describe())
    check_weight_gradient_is_h_transpose_delta(REFERENCE, case)


@given(EQUATION_CASES)
def test_bias_gradient_is_column_sum_of_delta(case: Case) -> None:
    note(case.describe())
    check_bias_gradient_is_column_sum_of_delta(REFERENCE, case)


@given(cases(min_depth=2, max_depth=4, max_width=6, max_batch=6))
def test_hidden_delta_follows_the_recursion(case: Case) -> None:
    note(case.describe())
    check_hidden_delta_recursion(REFERENCE, case)


@given(EQUATION_CASES)
def test_output_delta_is_dphi_times_loss_gradient(case: Case) -> None:
    note(case.describe())
    check_output_delta(REFERENCE, case)
