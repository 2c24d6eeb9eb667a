"""The output errors of the three losses (docs/contract.md, section 3), times the batch size n:

    cross_entropy, identity output         n delta^L = softmax(h^L) - onehot(y), rows sum to 0
    binary_cross_entropy, identity output  n delta^L = sigma(h^L) - y
    squared_error, any output activation   n delta^L = phi_L'(z^L) * (h^L - y)

The right-hand sides are computed here, independently of the reference's losses.
"""

import numpy as np
from hypothesis import given, note

from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_within, slope_error, u
from verification.cases import Case
from verification.cases.strategies import cases
from verification.oracles.precision import FLOAT64
from verification.oracles.tolerance import loss_gradient_bound

BOTH_SIDES = 2
"""Both sides are float64 computations of the same exact value, each within the bound of
verification.oracles.tolerance (loss_gradient_bound: the loss formula's own rounding, from the same
h^L): they may differ by twice the bound."""

TIMES_N_ROUNDINGS = 1
"""n delta^L rounds once more (the product by n)."""

SUBNORMAL_SPACING = 2.0**-1074
"""A subnormal delta^L is off by up to one spacing of subnormals (the relative model u misses
it, and the tolerance policy's eta = 2^-1075 rounds to 0.0 in float64), which the product
by n magnifies n times."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"this property applies only to {what}")


def _output_error(impl: Implementation, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n delta^L, h^L, z^L) from the implementation's trace, and the allowance of n g."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    return case.n * bp.delta[case.L], bp.h[case.L], bp.z[case.L]


def _allowed_n_g(case: Case, h_L: np.ndarray, n_delta: np.ndarray) -> np.ndarray:
    """BOTH_SIDES bounds of n dE/dh^L, plus the rounding of the product by n."""
    _, e_g = loss_gradient_bound(case.arch.loss, h_L, np.zeros_like(h_L), case.y, 0.0, FLOAT64)
    return BOTH_SIDES * case.n * (e_g + SUBNORMAL_SPACING) + TIMES_N_ROUNDINGS * u * np.abs(n_delta)


def _softmax(h: np.ndarray) -> np.ndarray:
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_cross_entropy_output_error(impl: Implementation, case: Case) -> None:
    """With cross_entropy and an identity output: n delta^L = softmax(h^L) - onehot(y), and
    every row of n delta^L sums to 0."""
    _require(
        case.arch.loss == "cross_entropy" and case.arch.activations[-1] == "identity",
        "cross_entropy with an identity output layer",
    )
    n_delta, h_L, _ = _output_error(impl, case)
    onehot = np.eye(h_L.shape[1])[case.y]
    allowed = _allowed_n_g(case, h_L, n_delta)
    assert_within(
        f"n delta^{case.L} against softmax(h^{case.L}) - onehot(y)",
        n_delta,
        _softmax(h_L) - onehot,
        allowed,
    )
    # the exact rows sum to 0: the computed ones by at most their entries' allowances, plus
    # the rounding of the sum itself (gamma_{n_L} of the sum of |entries|)
    n_L = h_L.shape[1]
    row_allowed = allowed.sum(axis=1) + n_L * u / (1 - n_L * u) * np.abs(n_delta).sum(axis=1)
    assert_within(
        f"the row sums of n delta^{case.L}", n_delta.sum(axis=1), np.zeros(case.n), row_allowed
    )


def check_binary_cross_entropy_output_error(impl: Implementation, case: Case) -> None:
    """With binary_cross_entropy and an identity output: n delta^L = sigma(h^L) - y."""
    _require(
        case.arch.loss == "binary_cross_entropy" and case.arch.activations[-1] == "identity",
        "binary_cross_entropy with an identity output layer",
    )
    n_delta, h_L, _ = _output_error(impl, case)
    sigma = 0.5 * (1 + np.tanh(0.5 * h_L))  # sigma(h) = (1 + tanh(h/2)) / 2, never overflows
    assert_within(
        f"n delta^{case.L} against sigma(h^{case.L}) - y",
        n_delta,
        sigma - case.y,
        _allowed_n_g(case, h_L, n_delta),
    )


def check_squared_error_output_error(impl: Implementation, case: Case) -> None:
    """With squared_error: n delta^L = phi_L'(z^L) * (h^L - y), for any output activation."""
    _require(case.arch.loss == "squared_error", "squared_error")
    n_delta, h_L, z_L = _output_error(impl, case)
    activation = case.arch.activation(case.L)
    dphi = activation.dphi(z_L)
    residual = h_L - case.y
    # phi' from another formula is off by TERM_U u of its terms (see test_equations)
    e_dphi = slope_error(activation.name, z_L)
    allowed = np.abs(dphi) * _allowed_n_g(case, h_L, n_delta) + BOTH_SIDES * (
        e_dphi * np.abs(residual) + u * np.abs(dphi * residual)
    )
    assert_within(
        f"n delta^{case.L} against phi_{case.L}'(z^{case.L}) * (h^{case.L} - y)",
        n_delta,
        dphi * residual,
        allowed,
    )


def _identity_output(case: Case) -> bool:
    return case.arch.activations[-1] == "identity"


SIZES = {"max_depth": 3, "max_width": 6, "max_batch": 6}
CROSS_ENTROPY_CASES = cases(losses=("cross_entropy",), **SIZES).filter(_identity_output)
BINARY_CROSS_ENTROPY_CASES = cases(losses=("binary_cross_entropy",), **SIZES).filter(
    _identity_output
)
SQUARED_ERROR_CASES = cases(losses=("squared_error",), **SIZES)


@given(CROSS_ENTROPY_CASES)
def test_cross_entropy_output_error_is_softmax_minus_onehot(case: Case) -> None:
    note(case.describe())
    check_cross_entropy_output_error(REFERENCE, case)


@given(BINARY_CROSS_ENTROPY_CASES)
def test_binary_cross_entropy_output_error_is_sigmoid_minus_target(case: Case) -> None:
    note(case.describe())
    check_binary_cross_entropy_output_error(REFERENCE, case)


@given(SQUARED_ERROR_CASES)
def test_squared_error_output_error_is_dphi_times_residual(case: Case) -> None:
    note(case.describe())
    check_squared_error_output_error(REFERENCE, case)
