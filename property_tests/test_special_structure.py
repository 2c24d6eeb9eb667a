"""Special structure that pins the matrix form down:

- identity activations everywhere: h^L = x W^1 ... W^L + sum_l b^l W^{l+1} ... W^L (affine in x);
- no hidden layer, identity output, squared_error: dE/dW = (1/n) x^T (x W + b - y),
  dE/db = (1/n) 1^T (x W + b - y), and both vanish at the least-squares solution;
- W^L = 0: every earlier layer's gradient is exactly zero;
- a relu unit whose pre-activation is <= 0 on every row: zero gradient on its incoming weights
  (column j of W^l) and its bias b^l_j, exactly.
"""

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

import reference
from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_gradients_within, assert_within, u
from reference import Params
from verification.cases import Case
from verification.cases.strategies import cases
from verification.oracles.precision import gamma
from verification.oracles.tolerance import allowance

BOTH_SIDES = 2  # both sides are float64 computations of one exact value, each within the bound

LEAST_SQUARES_BACKWARD_ERROR = 8
"""numpy.linalg.lstsq (LAPACK gelsd, SVD-based) is backward stable: the solution it returns
solves a problem with A + dA, y + dy, |dA| <= c m k u |A|, |dy| <= c m k u |y| (Higham,
Accuracy and Stability, ch. 20), with c a small constant taken as 8; truncating singular values
below rcond = max(m, k) eps |A| is a perturbation of the same order. Then
|A^T (A theta - y)| <= c m k u |A| (|A| |theta| + |y| + |r|) (normwise, Frobenius)."""


def _chain(matrices: list[np.ndarray], start: np.ndarray) -> np.ndarray:
    for M in matrices:
        start = start @ M
    return start


def check_identity_network_is_affine(impl: Implementation, case: Case) -> None:
    """With identity activations, h^L = x W^1 ... W^L + sum_l b^l W^{l+1} ... W^L."""
    if set(case.arch.activations) != {"identity"}:
        raise ValueError("this property applies only to networks of identity activations")
    Ws = [W for W, _ in case.params]
    h_L = impl.backprop(case.arch, case.params, case.x, case.y).h[case.L]
    expected = _chain(Ws, case.x) + sum(
        _chain(Ws[l:], b[None, :]) for l, (_, b) in enumerate(case.params, start=1)
    )
    magnitude = _chain([np.abs(W) for W in Ws], np.abs(case.x)) + sum(
        _chain([np.abs(W) for W in Ws[l:]], np.abs(b)[None, :])
        for l, (_, b) in enumerate(case.params, start=1)
    )
    # each layer is a sum of n_{l-1} + 1 terms; errors add up along the chain (first order)
    k = sum(n + 1 for n in case.arch.sizes[:-1])
    allowed = BOTH_SIDES * gamma(k, u) * magnitude
    assert_within(
        f"h^{case.L} against x W^1 ... W^L + sum_l b^l W^(l+1) ... W^L", h_L, expected, allowed
    )


def _require_single_linear_layer(case: Case) -> None:
    if (case.L, case.arch.activations, case.arch.loss) != (1, ("identity",), "squared_error"):
        raise ValueError("this property applies only to L = 1, identity, squared_error")


def check_single_layer_gradient_formula(impl: Implementation, case: Case) -> None:
    """dE/dW = (1/n) x^T (x W + b - y) and dE/db = (1/n) 1^T (x W + b - y)."""
    _require_single_linear_layer(case)
    (W, b), x, y, n = case.params[0], case.x, case.y, case.n
    r = x @ W + b - y
    expected = [(x.T @ r / n, r.sum(axis=0) / n)]
    a = allowance(case.arch, case.params, x, y)  # the formula is a correct implementation too
    allowed = [(BOTH_SIDES * a_W, BOTH_SIDES * a_b) for a_W, a_b in a]
    assert_gradients_within(
        "against (1/n) x^T (x W + b - y)",
        impl.gradients(case.arch, case.params, x, y),
        expected,
        allowed,
    )


def least_squares(x: np.ndarray, y: np.ndarray) -> Params:
    """(W, b) minimising |x W + b - y|^2, by numpy.linalg.lstsq on the columns [x, 1]."""
    A = np.hstack([x, np.ones((x.shape[0], 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return [(theta[:-1], theta[-1])]


def norm(a: np.ndarray) -> float:
    """The Frobenius norm, computed at a scale where no square underflows or overflows
    (np.linalg.norm squares the entries: the norm of [3e-201] comes out as 0)."""
    scale = float(np.max(np.abs(a), initial=0.0))
    return scale * float(np.linalg.norm(a / scale)) if scale > 0 else 0.0


def check_gradient_vanishes_at_least_squares(impl: Implementation, case: Case) -> None:
    """At the least-squares (W, b) the gradient of E is zero (up to the solver's accuracy)."""
    _require_single_linear_layer(case)
    x, y, n = case.x, case.y, case.n
    params = least_squares(x, y)
    W, b = params[0]
    A = np.hstack([x, np.ones((n, 1))])
    theta = np.vstack([W, b[None, :]])
    m, k = A.shape
    solver = (
        LEAST_SQUARES_BACKWARD_ERROR
        * m
        * k
        * u
        * norm(A)
        * (norm(A) * norm(theta) + norm(y) + norm(A @ theta - y))
        / n
    )
    allowed = [(a_W + solver, a_b + solver) for a_W, a_b in allowance(case.arch, params, x, y)]
    zero = [(np.zeros_like(W), np.zeros_like(b))]
    assert_gradients_within(
        "at the least-squares solution", impl.gradients(case.arch, params, x, y), zero, allowed
    )


def check_zero_last_weights_stop_the_gradient(impl: Implementation, case: Case) -> None:
    """With W^L = 0, dE/dW^l = 0 and dE/db^l = 0 exactly for l < L: delta^{L-1} is
    phi'(z^{L-1}) * delta^L 0^T, a sum of products with an exact zero."""
    params = list(case.params)
    W_L, b_L = params[-1]
    params[-1] = (np.zeros_like(W_L), b_L)
    grads = impl.gradients(case.arch, params, case.x, case.y)
    zero = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    exact = [(0.0, 0.0)] * case.L
    assert_gradients_within("with W^L = 0", grads, zero, exact, layers=range(1, case.L))


def with_dead_unit(case: Case, l: int, j: int, margin: float) -> Case:
    """The case with b^l_j = -max_i (h^{l-1} W^l)_ij - margin: z^l_ij <= 0 on every row, and
    exactly 0 on the row of the maximum if margin = 0 (for an implementation that computes
    z^l = h^{l-1} W^l + b^l as the reference does)."""
    h_prev = reference.forward(case.arch, case.params, case.x).h[l - 1]
    W, b = case.params[l - 1]  # layer l is params[l - 1]
    b = b.copy()
    b[j] = -(h_prev @ W)[:, j].max() - margin
    params = list(case.params)
    params[l - 1] = (W, b)
    return Case(case.arch, params, case.x, case.y, case.regime, case.seed, case.index)


def check_dead_relu_unit_gets_no_gradient(impl: Implementation, case: Case, l: int, j: int) -> None:
    """A relu unit j of layer l with z^l_ij <= 0 on every row: column j of dE/dW^l and
    dE/db^l_j are exactly 0 (relu'(z) = 0 there, relu'(0) = 0 included)."""
    z = reference.forward(case.arch, case.params, case.x).z[l]
    if case.arch.activations[l - 1] != "relu" or np.any(z[:, j] > 0):
        raise ValueError(f"unit {j} of layer {l} is not a dead relu unit")
    grad_W, grad_b = impl.gradients(case.arch, case.params, case.x, case.y)[l - 1]
    assert_within(
        f"layer {l}: dE/dW^{l}[:, {j}] of a dead relu unit",
        np.asarray(grad_W)[:, j],
        np.zeros(case.arch.sizes[l - 1]),
        0.0,
    )
    assert_within(f"layer {l}: dE/db^{l}[{j}] of a dead relu unit", np.asarray(grad_b)[j], 0.0, 0.0)


SIZES = {"max_depth": 4, "max_width": 5, "max_batch": 5}
IDENTITY_CASES = cases(activations=("identity",), **SIZES)
LINEAR_REGRESSION_CASES = cases(
    max_depth=1, max_width=5, max_batch=8, activations=("identity",), losses=("squared_error",)
)
DEEP_CASES = cases(min_depth=2, **SIZES)
DEAD_UNIT_ACTIVATIONS = ("relu", "identity", "tanh")


@st.composite
def dead_units(draw: st.DrawFn) -> tuple[Case, int, int]:
    """A case with a relu layer l whose unit j is made dead; margin 0 puts one row at the kink."""
    case = draw(
        cases(activations=DEAD_UNIT_ACTIVATIONS, **SIZES).filter(
            lambda c: "relu" in c.arch.activations
        ),
        label="case",
    )
    l = draw(
        st.sampled_from(
            [l for l in range(1, case.L + 1) if case.arch.activations[l - 1] == "relu"]
        ),
        label="l",
    )
    j = draw(st.integers(0, case.arch.sizes[l] - 1), label="j")
    margin = draw(st.one_of(st.just(0.0), st.floats(0.0, 4.0)), label="margin")
    return with_dead_unit(case, l, j, margin), l, j


@given(IDENTITY_CASES)
def test_identity_network_is_an_affine_map(case: Case) -> None:
    note(case.describe())
    check_identity_network_is_affine(REFERENCE, case)


@given(LINEAR_REGRESSION_CASES)
def test_single_linear_layer_gradient_is_normal_equations_residual(case: Case) -> None:
    note(case.describe())
    check_single_layer_gradient_formula(REFERENCE, case)


@given(LINEAR_REGRESSION_CASES)
def test_gradient_vanishes_at_the_least_squares_solution(case: Case) -> None:
    note(case.describe())
    check_gradient_vanishes_at_least_squares(REFERENCE, case)


@given(DEEP_CASES)
def test_zero_last_weights_zero_every_earlier_gradient(case: Case) -> None:
    note(case.describe())
    check_zero_last_weights_stop_the_gradient(REFERENCE, case)


@given(dead_units())
def test_dead_relu_unit_gets_no_gradient(scenario: tuple[Case, int, int]) -> None:
    case, l, j = scenario
    note(f"{case.describe()}; unit {j} of layer {l} is dead")
    check_dead_relu_unit_gets_no_gradient(REFERENCE, case, l, j)
