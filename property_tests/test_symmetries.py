"""Symmetries of the network: parameter changes that leave the function, hence E, unchanged.

- Permuting the neurons of a hidden layer l (the columns of W^l and b^l, the rows of W^{l+1})
  leaves E unchanged and permutes the gradients the same way.
- For a relu or leaky_relu layer l < L, phi(c z) = c phi(z) for c > 0: scaling W^l and b^l by c
  and W^{l+1} by 1/c leaves E unchanged, scales dE/dW^l and dE/db^l by 1/c and dE/dW^{l+1} by c.
  c is a power of two, so that the scaled parameters are exact and the two networks are the
  same function in floating point too, up to the rounding the allowances bound.
"""

from hypothesis import given, note
from hypothesis import strategies as st

from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_gradients_within, assert_within, error_allowance
from reference import Params
from verification.cases import Case
from verification.cases.strategies import cases
from verification.oracles.tolerance import allowance

HOMOGENEOUS = ("relu", "leaky_relu")  # phi(c z) = c phi(z) for every c > 0
RESCALING_ACTIVATIONS = (*HOMOGENEOUS, "identity", "tanh")  # half the layers homogeneous
SCALE_EXPONENTS = (-3, 3)  # c = 2^k: exact products, so only the networks' rounding remains


def permuted(params: Params, l: int, order: list[int]) -> Params:
    """Neurons of layer l reordered: columns of W^l and b^l, rows of W^{l+1}."""
    new = list(params)
    W, b = params[l - 1]  # layer l is params[l - 1]
    new[l - 1] = (W[:, order], b[order])
    W_next, b_next = params[l]
    new[l] = (W_next[order, :], b_next)
    return new


def _with_E_unchanged(impl: Implementation, case: Case, params: Params, what: str) -> None:
    arch, x, y = case.arch, case.x, case.y
    assert_within(
        f"E {what}",
        impl.error(arch, params, x, y),
        impl.error(arch, case.params, x, y),
        error_allowance(arch, params, x, y) + error_allowance(arch, case.params, x, y),
    )


def check_hidden_neuron_permutation(
    impl: Implementation, case: Case, l: int, order: list[int]
) -> None:
    """Permuting the neurons of hidden layer l leaves E unchanged and permutes the gradients."""
    arch, x, y = case.arch, case.x, case.y
    params = permuted(case.params, l, order)
    what = f"with the neurons of layer {l} in the order {order}"
    _with_E_unchanged(impl, case, params, what)
    expected = permuted(impl.gradients(arch, case.params, x, y), l, order)
    allowed = [
        (a_W + p_W, a_b + p_b)
        for (a_W, a_b), (p_W, p_b) in zip(
            allowance(arch, params, x, y),
            permuted(allowance(arch, case.params, x, y), l, order),
            strict=True,
        )
    ]
    assert_gradients_within(what, impl.gradients(arch, params, x, y), expected, allowed)


def check_homogeneous_rescaling(impl: Implementation, case: Case, l: int, c: float) -> None:
    """W^l, b^l times c and W^{l+1} times 1/c: E unchanged, dE/dW^l and dE/db^l times 1/c,
    dE/dW^{l+1} times c, every other gradient unchanged."""
    arch, x, y = case.arch, case.x, case.y
    W, b = case.params[l - 1]  # layer l is params[l - 1]
    W_next, b_next = case.params[l]
    params = list(case.params)
    params[l - 1], params[l] = (c * W, c * b), (W_next / c, b_next)
    what = f"with W^{l}, b^{l} scaled by {c} and W^{l + 1} by 1/{c}"
    _with_E_unchanged(impl, case, params, what)
    factors = [(1.0, 1.0)] * arch.L
    factors[l - 1], factors[l] = (1 / c, 1 / c), (c, 1.0)
    grads = impl.gradients(arch, case.params, x, y)
    expected = [
        (f_W * g_W, f_b * g_b) for (f_W, f_b), (g_W, g_b) in zip(factors, grads, strict=True)
    ]
    allowed = [
        (a_W + f_W * o_W, a_b + f_b * o_b)  # scaling by a power of two is exact
        for (a_W, a_b), (o_W, o_b), (f_W, f_b) in zip(
            allowance(arch, params, x, y), allowance(arch, case.params, x, y), factors, strict=True
        )
    ]
    assert_gradients_within(what, impl.gradients(arch, params, x, y), expected, allowed)


@st.composite
def neuron_permutations(draw: st.DrawFn, **bounds: object) -> tuple[Case, int, list[int]]:
    """A case with a hidden layer, one hidden layer l of it, and an order of its neurons.
    `bounds` go to verification.cases.strategies.cases."""
    bounds = {"min_depth": 2, "max_depth": 4, "max_width": 5, "max_batch": 5, **bounds}
    case = draw(cases(**bounds), label="case")
    l = draw(st.integers(1, case.L - 1), label="l")
    return case, l, draw(st.permutations(range(case.arch.sizes[l])), label="order")


def _hidden_homogeneous_layers(case: Case) -> list[int]:
    return [l for l in range(1, case.L) if case.arch.activations[l - 1] in HOMOGENEOUS]


@st.composite
def homogeneous_rescalings(draw: st.DrawFn) -> tuple[Case, int, float]:
    """A case with a relu or leaky_relu hidden layer l, and a scale c = 2^k, k != 0."""
    case = draw(
        cases(
            min_depth=2, max_depth=4, max_width=5, max_batch=5, activations=RESCALING_ACTIVATIONS
        ).filter(_hidden_homogeneous_layers),
        label="case",
    )
    l = draw(st.sampled_from(_hidden_homogeneous_layers(case)), label="l")
    k = draw(st.integers(*SCALE_EXPONENTS).filter(bool), label="k")
    return case, l, 2.0**k


@given(neuron_permutations())
def test_permuting_hidden_neurons_permutes_the_gradients(
    scenario: tuple[Case, int, list[int]],
) -> None:
    case, l, order = scenario
    note(f"{case.describe()}; layer {l} in the order {order}")
    check_hidden_neuron_permutation(REFERENCE, case, l, order)


@given(homogeneous_rescalings())
def test_rescaling_a_relu_layer_rescales_the_gradients(scenario: tuple[Case, int, float]) -> None:
    case, l, c = scenario
    note(f"{case.describe()}; layer {l} scaled by c = {c}")
    check_homogeneous_rescaling(REFERENCE, case, l, c)
