"""Every property can fail: run on a deliberately broken implementation, it reports a violation.

For each property (a check function of the other test files) and a bug it must catch, Hypothesis
searches the property's own scenarios for one where the check rejects the broken implementation
AND accepts a correct one (the zoo's Textbook for the zoo's bugs, the reference for the local
ones), so the violation is the bug's and not the scenario's. A property that no bug can break
would be a defect.

The bugs are the zoo's (verification/tests/bug_zoo.py) where they fit; the properties of E, of
the forward pass and of the step need broken variants of those, written here.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import find
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import reference
from property_tests import (
    test_batch_mean,
    test_calculus,
    test_convexity,
    test_equations,
    test_output_errors,
    test_shapes,
    test_special_structure,
    test_symmetries,
)
from property_tests.implementations import REFERENCE, TEXTBOOK, Implementation, from_textbook
from property_tests.search import SEARCH, passes, violation
from verification.zoo import bugs as bug_zoo
from verification.zoo.bugs import Textbook

# --- broken variants of the forward pass, E and the step ------------------------------------


class ForgetsBias(Textbook):
    """z^l = h^{l-1} W^l: the bias never enters the forward pass."""

    def pre_activation(self, h_prev, W, b):
        return h_prev @ W


class BiasOnRows(Textbook):
    """b^l added down the rows (b[:, None]) where the batch is as wide as the layer: numpy
    broadcasts it without complaint."""

    def pre_activation(self, h_prev, W, b):
        z = h_prev @ W
        return z + (b[:, None] if z.shape[0] == z.shape[1] else b)


class WeightDecayInGradient(Textbook):
    """An L2 penalty 1e-3 W^l added to dE/dW^l: the gradient of some other E."""

    def finish(self, arch, params, grads):
        return [(gW + 1e-3 * W, gb) for (W, _), (gW, gb) in zip(params, grads, strict=True)]


def error_as_sum(arch, params, x, y):
    """E = sum_i L_i: the sum where the mean belongs."""
    return reference.error(arch, params, x, y) * x.shape[0]


def error_negated(arch, params, x, y):
    """E = -mean L_i: the log-likelihood where its negative belongs."""
    return -reference.error(arch, params, x, y)


def error_of_shuffled_inputs(arch, params, x, y):
    """The rows of x shuffled (by a fixed permutation) and those of y not."""
    order = np.random.default_rng(0).permutation(x.shape[0])
    return reference.error(arch, params, x[order], y)


def ascent_step(params, grads, alpha):
    """W + alpha dE/dW: the sign of Delta W = -alpha dE/dW lost."""
    return [
        (W + alpha * gW, b + alpha * gb) for (W, b), (gW, gb) in zip(params, grads, strict=True)
    ]


def step_with_bias_as_row(params, grads, alpha):
    """b - alpha dE/db with dE/db kept as a (1, n_l) row: b becomes (1, n_l)."""
    return [
        (W - alpha * gW, b - alpha * gb[None, :])
        for (W, b), (gW, gb) in zip(params, grads, strict=True)
    ]


def zoo(bug: type[Textbook]) -> tuple[Implementation, Implementation]:
    """(broken, correct) for a Textbook subclass: the correct one is Textbook itself."""
    return from_textbook(bug), TEXTBOOK


def local(**parts: Callable) -> tuple[Implementation, Implementation]:
    """(broken, correct) for the reference with some parts replaced."""
    name = ", ".join(f.__name__ for f in parts.values())
    return replace(REFERENCE, name=name, **parts), REFERENCE


# --- the scenarios ---------------------------------------------------------------------------


def one(strategy: st.SearchStrategy) -> st.SearchStrategy[tuple]:
    """A strategy of cases as a strategy of 1-tuples, the form check(impl, *scenario) takes."""
    return strategy.map(lambda case: (case,))


SQUARE = {"min_width": 3, "max_width": 3, "min_batch": 3, "max_batch": 3}  # n = n_l = 3

# --- the demonstrations: (property, its scenarios, the bug) -----------------------------------


@dataclass(frozen=True)
class Demonstration:
    check: Callable[..., None]
    scenarios: st.SearchStrategy[tuple]
    broken: Implementation
    correct: Implementation

    def __str__(self) -> str:
        return f"{self.check.__name__}-{self.broken.name}"


def demo(check, scenarios, pair) -> Demonstration:
    return Demonstration(check, scenarios, *pair)


shapes, eq, out = test_shapes, test_equations, test_output_errors
mean, sym, calc = test_batch_mean, test_symmetries, test_calculus
special, convex = test_special_structure, test_convexity

DEMONSTRATIONS = [
    # shapes
    demo(shapes.check_trace_shapes, one(shapes.SHAPE_CASES), zoo(bug_zoo.BiasGradientWrongAxis)),
    demo(
        shapes.check_gradient_shapes, one(shapes.SHAPE_CASES), zoo(bug_zoo.TransposedWeightGradient)
    ),
    demo(shapes.check_step_shapes, one(shapes.SHAPE_CASES), local(step=step_with_bias_as_row)),
    # the seed's equations on the trace
    demo(
        eq.check_weight_gradient_is_h_transpose_delta,
        one(eq.EQUATION_CASES),
        zoo(bug_zoo.OffByOneLayerInput),
    ),
    demo(
        eq.check_weight_gradient_is_h_transpose_delta,
        one(eq.EQUATION_CASES),
        zoo(bug_zoo.TransposedWeightGradient),
    ),
    demo(
        eq.check_bias_gradient_is_column_sum_of_delta,
        one(eq.EQUATION_CASES),
        zoo(bug_zoo.BiasGradientAveraged),
    ),
    demo(eq.check_hidden_delta_recursion, one(eq.EQUATION_CASES), zoo(bug_zoo.MissingHiddenDphi)),
    demo(eq.check_hidden_delta_recursion, one(eq.EQUATION_CASES), zoo(bug_zoo.DphiAtH)),
    demo(eq.check_output_delta, one(eq.EQUATION_CASES), zoo(bug_zoo.MissingOutputDphi)),
    demo(eq.check_output_delta, one(eq.EQUATION_CASES), zoo(bug_zoo.SumInsteadOfMean)),
    # output errors
    demo(
        out.check_cross_entropy_output_error,
        one(out.CROSS_ENTROPY_CASES),
        zoo(bug_zoo.CrossEntropyWithoutSoftmax),
    ),
    demo(
        out.check_cross_entropy_output_error,
        one(out.CROSS_ENTROPY_CASES),
        zoo(bug_zoo.UnstableSoftmax),
    ),
    demo(
        out.check_binary_cross_entropy_output_error,
        one(out.BINARY_CROSS_ENTROPY_CASES),
        zoo(bug_zoo.SumInsteadOfMean),
    ),
    demo(
        out.check_squared_error_output_error,
        one(out.SQUARED_ERROR_CASES),
        zoo(bug_zoo.MissingHalfInSquaredError),
    ),
    demo(
        out.check_squared_error_output_error,
        one(out.SQUARED_ERROR_CASES),
        zoo(bug_zoo.TanhDerivativeNotSquared),
    ),
    # E is a batch mean
    demo(
        mean.check_gradient_is_mean_of_example_gradients,
        one(mean.BATCH_CASES),
        zoo(bug_zoo.SumInsteadOfMean),
    ),
    demo(
        mean.check_gradient_is_mean_of_example_gradients,
        one(mean.BATCH_CASES),
        zoo(bug_zoo.BiasGradientAveraged),
    ),
    demo(
        mean.check_row_order_is_irrelevant, mean.row_orders(), zoo(bug_zoo.AccumulatesAcrossCalls)
    ),
    demo(mean.check_row_order_is_irrelevant, mean.row_orders(), zoo(bug_zoo.InPlaceUpdate)),
    demo(
        mean.check_row_order_is_irrelevant, mean.row_orders(), local(error=error_of_shuffled_inputs)
    ),
    demo(
        mean.check_repeated_batch_is_irrelevant,
        one(mean.BATCH_CASES),
        zoo(bug_zoo.SumInsteadOfMean),
    ),
    demo(mean.check_repeated_batch_is_irrelevant, one(mean.BATCH_CASES), local(error=error_as_sum)),
    # symmetries
    demo(sym.check_hidden_neuron_permutation, sym.neuron_permutations(**SQUARE), zoo(BiasOnRows)),
    demo(
        sym.check_hidden_neuron_permutation,
        sym.neuron_permutations(**SQUARE),
        zoo(bug_zoo.TransposedWeightGradient),
    ),
    demo(
        sym.check_homogeneous_rescaling,
        sym.homogeneous_rescalings(),
        zoo(bug_zoo.OffByOneLayerInput),
    ),
    # calculus
    demo(calc.check_directional_derivative, calc.smooth_directions(), zoo(bug_zoo.SignFlipped)),
    demo(
        calc.check_directional_derivative,
        calc.smooth_directions(),
        zoo(bug_zoo.MissingHalfInSquaredError),
    ),
    demo(calc.check_directional_derivative, calc.smooth_directions(), local(error=error_as_sum)),
    demo(calc.check_descent_step_lowers_error, calc.descents(), zoo(bug_zoo.SignFlipped)),
    demo(calc.check_descent_step_lowers_error, calc.descents(), zoo(bug_zoo.SumInsteadOfMean)),
    demo(calc.check_descent_step_lowers_error, calc.descents(), local(step=ascent_step)),
    # special structure
    demo(special.check_identity_network_is_affine, one(special.IDENTITY_CASES), zoo(ForgetsBias)),
    demo(
        special.check_single_layer_gradient_formula,
        one(special.LINEAR_REGRESSION_CASES),
        zoo(bug_zoo.SumInsteadOfMean),
    ),
    demo(
        special.check_single_layer_gradient_formula,
        one(special.LINEAR_REGRESSION_CASES),
        zoo(bug_zoo.MissingHalfInSquaredError),
    ),
    demo(
        special.check_gradient_vanishes_at_least_squares,
        one(special.LINEAR_REGRESSION_CASES),
        zoo(ForgetsBias),
    ),
    demo(
        special.check_gradient_vanishes_at_least_squares,
        one(special.LINEAR_REGRESSION_CASES),
        zoo(bug_zoo.Float32Inside),
    ),
    demo(
        special.check_zero_last_weights_stop_the_gradient,
        one(special.DEEP_CASES),
        zoo(WeightDecayInGradient),
    ),
    demo(
        special.check_dead_relu_unit_gets_no_gradient,
        special.dead_units(),
        zoo(bug_zoo.ReluSlopeOneAtZero),
    ),
    demo(
        special.check_dead_relu_unit_gets_no_gradient,
        special.dead_units(),
        zoo(bug_zoo.MissingHiddenDphi),
    ),
    # convexity
    demo(convex.check_single_layer_error_is_convex, convex.segments(), local(error=error_negated)),
    demo(
        convex.check_swap_shows_non_convexity,
        convex.neuron_swaps(**{**SQUARE, "regimes": None}),
        zoo(BiasOnRows),
    ),
]


@pytest.mark.parametrize("demonstration", DEMONSTRATIONS, ids=str)
def test_property_reports_the_planted_bug(demonstration: Demonstration) -> None:
    d = demonstration

    def shows_the_bug(scenario: tuple) -> bool:
        try:
            violated = violation(d.check, d.broken, scenario) is not None
        except Exception:  # the bug crashes here: not the violation this search is after
            return False
        return violated and passes(d.check, d.correct, scenario)

    try:
        found = find(d.scenarios, shows_the_bug, settings=SEARCH)
    except NoSuchExample:
        raise AssertionError(
            f"{d.check.__name__} found no scenario where it rejects {d.broken.name} and accepts "
            f"{d.correct.name} in {SEARCH.max_examples} tries: it cannot catch that bug"
        ) from None
    message = violation(d.check, d.broken, found)
    assert message, f"{d.check.__name__} accepted {d.broken.name} on a second look"


def test_every_property_is_demonstrated() -> None:
    """Each check_ function of the property files appears in at least one demonstration."""
    modules = (shapes, eq, out, mean, sym, calc, special, convex)
    checks = {getattr(m, name) for m in modules for name in dir(m) if name.startswith("check_")}
    shown = {d.check for d in DEMONSTRATIONS}
    missing = sorted(c.__name__ for c in checks - shown)
    assert not missing, f"properties never shown able to fail: {missing}"
