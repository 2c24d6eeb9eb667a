"""The shape rules of the matrix form (examples are rows).

    h^l, z^l, delta^l   (n, n_l)
    dE/dW^l, Delta W^l  (n_{l-1}, n_l), the shape of W^l
    dE/db^l, Delta b^l  (n_l,), the shape of b^l

for every depth, width 1 and batch 1 included.
"""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from property_tests.implementations import REFERENCE, Implementation
from verification.cases import Case
from verification.cases.strategies import cases

ALPHA = 0.1  # any learning rate: the shapes of Delta W = -alpha dE/dW do not depend on it


def _assert_shape(what: str, a: object, expected: tuple[int, ...]) -> None:
    if np.shape(a) != expected:
        raise AssertionError(f"{what} has shape {np.shape(a)}, but should be {expected}")


def _assert_layers(what: str, keys: object, expected: range) -> None:
    if sorted(keys) != list(expected):
        raise AssertionError(f"{what} has layers {sorted(keys)}, but should have {list(expected)}")


def check_trace_shapes(impl: Implementation, case: Case) -> None:
    """h^l (l = 0..L), z^l and delta^l (l = 1..L) are (n, n_l); dE/dW^l and dE/db^l have the
    shapes of W^l and b^l."""
    bp = impl.backprop(case.arch, case.params, case.x, case.y)
    n, sizes, L = case.n, case.arch.sizes, case.L
    _assert_layers("h", bp.h, range(L + 1))
    for name in ("z", "delta", "grad_W", "grad_b"):
        _assert_layers(name, getattr(bp, name), range(1, L + 1))
    for l in range(L + 1):
        _assert_shape(f"h^{l}", bp.h[l], (n, sizes[l]))
    for l in range(1, L + 1):
        W, b = case.params[l - 1]  # layer l is params[l - 1]
        _assert_shape(f"z^{l}", bp.z[l], (n, sizes[l]))
        _assert_shape(f"delta^{l}", bp.delta[l], (n, sizes[l]))
        _assert_shape(f"dE/dW^{l}", bp.grad_W[l], W.shape)
        _assert_shape(f"dE/db^{l}", bp.grad_b[l], b.shape)


def check_gradient_shapes(impl: Implementation, case: Case) -> None:
    """gradients() returns L pairs (dE/dW^l, dE/db^l), with the shapes of (W^l, b^l)."""
    grads = impl.gradients(case.arch, case.params, case.x, case.y)
    if len(grads) != case.L:
        raise AssertionError(f"gradients has {len(grads)} layers, but should have L = {case.L}")
    for l, ((W, b), (grad_W, grad_b)) in enumerate(zip(case.params, grads, strict=True), start=1):
        _assert_shape(f"dE/dW^{l}", grad_W, W.shape)
        _assert_shape(f"dE/db^{l}", grad_b, b.shape)


def check_step_shapes(impl: Implementation, case: Case) -> None:
    """A gradient-descent step changes W^l by Delta W^l of the shape of W^l, b^l likewise."""
    grads = impl.gradients(case.arch, case.params, case.x, case.y)
    new = impl.step(case.params, grads, ALPHA)
    if len(new) != case.L:
        raise AssertionError(f"the step returned {len(new)} layers, but should return {case.L}")
    for l, ((W, b), (W_new, b_new)) in enumerate(zip(case.params, new, strict=True), start=1):
        _assert_shape(f"Delta W^{l}", np.asarray(W_new) - W, W.shape)
        _assert_shape(f"Delta b^{l}", np.asarray(b_new) - b, b.shape)


SHAPE_CASES = cases(max_width=6, max_batch=6)
"""Every depth 1..6, widths and batch sizes from 1 (the strategies draw 1 often)."""


@given(SHAPE_CASES)
def test_trace_has_the_shapes_of_the_matrix_form(case: Case) -> None:
    note(case.describe())
    check_trace_shapes(REFERENCE, case)


@given(SHAPE_CASES)
def test_gradients_have_the_shapes_of_the_parameters(case: Case) -> None:
    note(case.describe())
    check_gradient_shapes(REFERENCE, case)


@given(SHAPE_CASES)
def test_descent_step_keeps_the_shapes_of_the_parameters(case: Case) -> None:
    note(case.describe())
    check_step_shapes(REFERENCE, case)


@pytest.mark.parametrize("L", range(1, 7))
@given(data=st.data())
def test_shapes_hold_with_width_one_and_batch_one(L: int, data: st.DataObject) -> None:
    case = data.draw(cases(min_depth=L, max_depth=L, max_width=1, max_batch=1), label="case")
    note(case.describe())
    check_trace_shapes(REFERENCE, case)
    check_gradient_shapes(REFERENCE, case)
    check_step_shapes(REFERENCE, case)
