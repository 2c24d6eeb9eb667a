"""The tolerance policy: the allowance covers what correct code rounds, and no more.

Cases come from verification.cases (every activation and loss, and the hard regimes: saturated
units, exact kinks, zero inputs, logits of 1e3 to 1e6, tiny gradients, L = 1, width 1, batch 1).
The correct implementations of alternatives.py must never be flagged, whether against the
reference (the gate's rule |got - oracle| <= A(got) + A(oracle)) or against the exact gradient
(extended precision, |got - exact| <= A); the broken ones must be.

TOLERANCE_CASES sets the number of cases per test (default 60; 600 pass as well, in ~40 s).
"""

import functools
import importlib.util
import math
import os

import numpy as np
import pytest

import reference
from reference import Architecture
from verification.cases import Case, CaseOptions, draw_case
from verification.judge.compare import beyond as entries_beyond
from verification.oracles.precision import FLOAT32, FLOAT64, TERM_U, precision_of
from verification.oracles.tolerance import allowance, error_bounds, exact_pre_activation, lowest_bit
from verification.tests import alternatives

CASES = int(os.environ.get("TOLERANCE_CASES", "60"))
SEED = 7
KINKS = CaseOptions(regimes=("kinks",))

RELATIVE_ERROR = 1e-6  # the planted error of alternatives.relative_error
LOST_IN_THE_TAILS = 2 * TERM_U * FLOAT64.u / RELATIVE_ERROR
"""About 3.6e-9. A textbook formula may be off by TERM_ULPS ULP of terms of order 1 (sigmoid as
0.5 (1 + tanh(z/2)), tanh' as 1 - tanh^2), so where every gradient entry is smaller than this
(inputs and weights of order 1: the units are saturated, or the gradient is exactly 0), a
relative error of 1e-6 is within what two correct implementations may differ by. Every case
with a larger entry must be flagged."""


@functools.cache
def case(index: int, options: CaseOptions = CaseOptions()) -> Case:  # noqa: B008
    return draw_case(SEED, index, options)


@functools.cache
def oracles(index: int, options: CaseOptions = CaseOptions()) -> tuple:  # noqa: B008
    """(reference gradient, extended-precision gradient, float64 allowance) of one case."""
    c = case(index, options)
    args = (c.arch, c.params, c.x, c.y)
    with np.errstate(all="ignore"):
        return reference.gradients(*args), alternatives.extended_gradients(*args), allowance(*args)


def beyond(got: list, expected: list, allowed: list) -> list[str]:
    """Where |got - expected| > allowed: one line per (layer, W or b), with the worst entry."""
    lines = []
    for l, (g_pair, e_pair, a_pair) in enumerate(zip(got, expected, allowed, strict=True), 1):
        for symbol, g, e, a in zip("Wb", g_pair, e_pair, a_pair, strict=True):
            ok = ~entries_beyond(np.asarray(g), e, a)
            if not ok.all():
                diff = np.abs(np.asarray(g, dtype=np.longdouble) - e).astype(np.float64)
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    worst = np.unravel_index(np.nanargmax(np.where(ok, 0, diff / a)), diff.shape)
                lines.append(
                    f"layer {l}: dE/d{symbol}{list(worst)} = {float(g[worst]):.17g}, but should "
                    f"be {float(e[worst]):.17g} within {a[worst]:.3g} "
                    f"(|diff| {diff[worst]:.3g}; {int((~ok).sum())} of {ok.size} entries beyond)"
                )
    return lines


def doubled(allowed: list) -> list:
    """A(impl) + A(oracle) for two float64 implementations: the same allowance twice."""
    return [(2 * aW, 2 * ab) for aW, ab in allowed]


def largest(grads: list) -> float:
    return max(float(np.abs(a).max(initial=0.0)) for layer in grads for a in layer)


def differs(a: list, b: list) -> bool:
    """Some entry of gradient a is not bit for bit that of gradient b."""
    return any(
        not np.array_equal(p, q)
        for pair_a, pair_b in zip(a, b, strict=True)
        for p, q in zip(pair_a, pair_b, strict=True)
    )


def run(impl, c: Case) -> list:
    with np.errstate(all="ignore"):
        return impl(c.arch, c.params, c.x, c.y)


def correct_implementations() -> dict:
    impls = dict(alternatives.CORRECT)
    if importlib.util.find_spec("verification.oracles.torch_mirror") is not None:
        from verification.oracles.torch_mirror import torch_backprop

        impls["torch_mirror"] = lambda *args: torch_backprop(*args).grads
    return impls


CORRECT = correct_implementations()


# --- the helpers of the analysis ------------------------------------------------------------


def test_lowest_bit_is_the_exponent_of_the_last_set_bit():
    # 0.1 = 0x1.999999999999ap-4: the last hex digit a = 1010 ends one bit above the 52nd
    # fraction bit, so its lowest set bit is 2^(-4 - 52 + 1) = 2^-55.
    values = np.array([1.0, 0.75, 6.0, -3.0, 2.0**-1074, 0.1, 2.0**60, 0.0])
    expected = np.array([0, -2, 1, 0, -1074, -55, 60, np.inf])
    np.testing.assert_array_equal(lowest_bit(values), expected)


def test_nan_and_inf_are_beyond_any_allowance():
    got = np.array([1.0, np.nan, np.inf, 2.0, 1.0 + 2e-16])
    expected = np.array([1.0, 1.0, np.inf, 2.0, 1.0])
    allow = np.array([0.0, np.inf, np.inf, 0.0, 1e-16])
    np.testing.assert_array_equal(
        entries_beyond(got, expected, allow), [False, True, True, False, True]
    )


def test_unknown_dtype_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="float64, float32"):
        precision_of(np.float16)
    assert precision_of(np.float32) is FLOAT32 and precision_of("float64") is FLOAT64


def test_allowance_has_the_shapes_of_the_gradients_and_is_finite_and_positive():
    for i in range(CASES):
        c = case(i)
        for dtype in (np.float64, np.float32):
            allowed = allowance(c.arch, c.params, c.x, c.y, dtype=dtype)
            assert len(allowed) == c.L, c.describe()
            for (W, b), (aW, ab) in zip(c.params, allowed, strict=True):
                assert aW.shape == W.shape and ab.shape == b.shape, c.describe()
                for a in (aW, ab):
                    assert np.isfinite(a).all() and (a >= 0).all(), (c.describe(), a)


# --- exactness: an error bound of 0 only where it is proved ---------------------------------


def kink_at_zero(x: list, W: list, b: list) -> tuple[Architecture, list, np.ndarray, np.ndarray]:
    """One relu unit fed by x W + b, then one identity output: the kink of layer 1 decides."""
    arch = Architecture(
        sizes=(len(W), 1, 1), activations=("relu", "identity"), loss="squared_error"
    )
    params = [(np.array(W, dtype=float), np.array(b, dtype=float)), (np.ones((1, 1)), np.zeros(1))]
    x = np.array(x, dtype=float)
    return arch, params, x, np.full((x.shape[0], 1), 3.0)


def test_small_integer_layer_is_exact_so_its_unit_at_the_kink_must_follow_the_convention():
    arch, params, x, y = kink_at_zero([[3.0, -1.5, 2.0]], [[1.0], [2.0], [0.0]], [0.0])
    bounds = error_bounds(arch, params, x, y)
    assert reference.backprop(arch, params, x, y).z[1][0, 0] == 0.0
    assert bounds.exact_z[1].all() and not bounds.ambiguous[1].any()
    assert (bounds.e_z[1] == 0).all()
    good, bad = (
        alternatives.plain(arch, params, x, y),
        alternatives.relu_prime_one(arch, params, x, y),
    )
    assert not beyond(good, reference.gradients(arch, params, x, y), doubled(bounds.grads))
    assert beyond(bad, reference.gradients(arch, params, x, y), doubled(bounds.grads))


def test_rounded_layer_at_the_kink_may_take_either_side():
    # 0.1 + 0.2 - 0.30000000000000004 is 0 in this order but -2.8e-17 in another:
    # z is not exact, the unit is ambiguous, and relu'(0) = 1 is then a legitimate outcome.
    arch, params, x, y = kink_at_zero([[0.1, 0.2]], [[1.0], [1.0]], [-0.30000000000000004])
    bounds = error_bounds(arch, params, x, y)
    assert not bounds.exact_z[1].any() and bounds.ambiguous[1].all()
    bad = alternatives.relu_prime_one(arch, params, x, y)
    assert not beyond(bad, reference.gradients(arch, params, x, y), doubled(bounds.grads))


def test_dyadic_terms_beyond_the_significand_are_not_claimed_exact():
    # 2^60 + 1 needs 61 bits: h W + b is rounded, whatever the order.
    h = np.array([[2.0**60, 1.0]])
    W = np.ones((2, 1))
    exact = np.ones_like(h, dtype=bool)
    assert not exact_pre_activation(h, exact, W, np.zeros(1), FLOAT64).any()
    assert exact_pre_activation(
        h,
        exact,
        W,
        np.zeros(1),
        FLOAT64.__class__(
            "wide", u=2.0**-80, p=80, min_exponent=-1074, eta=0.0, floor=0.0, tanh_saturates=30.0
        ),
    ).all()
    # 1 + 2^-30 fits float64 but not float32
    h = np.array([[1.0, 2.0**-30]])
    assert exact_pre_activation(h, exact, W, np.zeros(1), FLOAT64).all()
    assert not exact_pre_activation(h, exact, W, np.zeros(1), FLOAT32).any()


def exact_z(c: Case, l: int, h_prev: np.ndarray) -> np.ndarray:
    W, b = c.params[l - 1]
    return h_prev.astype(np.longdouble) @ W.astype(np.longdouble) + b


@pytest.mark.parametrize(
    "product",
    [alternatives.reversed_product, alternatives.pairwise_product, alternatives.shuffled_product],
)
def test_pre_activations_claimed_exact_are_exact_in_every_summation_order(product):
    claimed = 0
    for i in range(CASES):
        c = case(i, KINKS)
        trace = reference.backprop(c.arch, c.params, c.x, c.y)
        bounds = error_bounds(c.arch, c.params, c.x, c.y, trace=trace)
        for l in range(1, c.L + 1):
            exact = bounds.exact_z[l]
            W, b = c.params[l - 1]
            z = product(trace.h[l - 1], W) + b
            truth = exact_z(c, l, trace.h[l - 1])
            assert (z[exact] == truth[exact]).all(), (c.describe(), l)
            assert (trace.z[l][exact] == truth[exact]).all(), (c.describe(), l)
            claimed += int(exact.sum())
    assert claimed > 0  # the kinks regime does plant exact layers


# --- no false alarm: correct implementations that round differently -------------------------


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_implementation_is_within_the_allowance_of_the_reference_and_of_the_exact(name):
    impl = CORRECT[name]
    for i in range(CASES):
        c = case(i)
        ref, ext, allowed = oracles(i)
        got = run(impl, c)
        assert not beyond(got, ref, doubled(allowed)), (
            name,
            c.describe(),
            beyond(got, ref, doubled(allowed)),
        )
        assert not beyond(got, ext, allowed), (name, c.describe(), beyond(got, ext, allowed))


def test_reference_is_within_its_allowance_of_the_exact_gradient():
    for i in range(CASES):
        c = case(i)
        ref, ext, allowed = oracles(i)
        assert not beyond(ref, ext, allowed), (c.describe(), beyond(ref, ext, allowed))


def test_order_that_changes_between_calls_is_not_taken_for_nondeterminism():
    changed = 0
    for i in range(CASES):
        c = case(i)
        first, second = run(alternatives.shuffled_order, c), run(alternatives.shuffled_order, c)
        changed += differs(first, second)
        assert not beyond(second, first, doubled(oracles(i)[2])), c.describe()
    assert changed > 0  # the order did change the rounding somewhere


@pytest.mark.parametrize("name", ["float32_inside", "torch_float32"])
def test_float32_implementation_passes_the_float32_policy(name):
    impl = getattr(alternatives, name)
    for i in range(CASES):
        c = case(i)
        ref, _, allowed64 = oracles(i)
        allowed32 = allowance(c.arch, c.params, c.x, c.y, dtype=np.float32)
        both = [(a + b, p + q) for (a, p), (b, q) in zip(allowed32, allowed64, strict=True)]
        got = run(impl, c)
        assert not beyond(got, ref, both), (name, c.describe(), beyond(got, ref, both))


# --- detection: the broken implementations --------------------------------------------------


@pytest.mark.parametrize("name", ["relative_error", "float32_inside"])
def test_broken_implementation_is_flagged_wherever_the_gradient_is_not_lost_in_the_tails(name):
    """Flagged on every case with an entry above LOST_IN_THE_TAILS, unless the broken code
    returns the reference's gradient bit for bit (float32 is exact on some dyadic kink cases)."""
    impl = alternatives.BROKEN[name]
    flagged = 0
    for i in range(CASES):
        c = case(i)
        ref, _, allowed = oracles(i)
        got = run(impl, c)
        caught = bool(beyond(got, ref, doubled(allowed)))
        flagged += caught
        if largest(ref) >= LOST_IN_THE_TAILS and differs(got, ref):
            assert caught, (name, c.describe(), largest(ref))
    # the rest have a zero gradient (cross_entropy with n_L = 1, dead units) or one lost in
    # the tails: 85% of 600 default cases are flagged
    assert flagged >= 2 / 3 * CASES, f"{name} flagged on {flagged} of {CASES} cases"


def test_relu_prime_one_is_flagged_on_every_case_whose_exact_kink_it_changes():
    matters = 0
    for i in range(CASES):
        c = case(i, KINKS)
        ref, _, allowed = oracles(i, KINKS)
        bad, plain = run(alternatives.relu_prime_one, c), run(alternatives.plain, c)
        if differs(bad, plain):
            matters += 1
            assert beyond(bad, ref, doubled(allowed)), c.describe()
    assert matters >= CASES // 4, f"relu'(0) mattered in only {matters} of {CASES} kink cases"


def test_gelu_tanh_output_at_large_logits_keeps_an_allowance_that_sees_1e_6():
    # gelu_tanh'(z) = (1 + t)/2 + z (1 - t^2) w'/2 with w' ~ z^2: ULPs of 1 in 1 - t^2 would
    # be worth ~1e-1 at z = 1e5, but past saturation t is exactly 1 and 1 - t^2 exactly 0.
    arch = Architecture(sizes=(2, 3), activations=("gelu_tanh",), loss="cross_entropy")
    params = [(np.array([[6e4, -2e4, 5e4], [2e4, 1e4, -1e3]]), np.array([10.0, 0.0, -5.0]))]
    x, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([2, 0])
    allowed = allowance(arch, params, x, y)
    ref = reference.gradients(arch, params, x, y)
    for name in ("textbook", "torch_autograd"):
        assert not beyond(CORRECT[name](arch, params, x, y), ref, doubled(allowed)), name
    assert beyond(alternatives.relative_error(arch, params, x, y), ref, doubled(allowed))


def test_allowance_of_a_plain_case_is_far_below_a_relative_error_of_1e_6():
    ratios = []
    for i in range(CASES):
        c = case(i)
        if c.regime != "plain":
            continue
        ref, _, allowed = oracles(i)
        for g_pair, a_pair in zip(ref, allowed, strict=True):
            for g, a in zip(g_pair, a_pair, strict=True):
                big = np.abs(g) > 0
                ratios.extend((a[big] / np.abs(g[big])).tolist())
    median = float(np.median(ratios))
    assert median < RELATIVE_ERROR * 1e-4, median
    assert math.isfinite(median)


# --- the class of textbook formulas (docs/tolerance.md) ----------------------------------------

ZERO_INPUT_TANH = (1, 924, CaseOptions(activations=("tanh",), losses=("squared_error",)))
"""A zero_inputs case where tanh via 2 / (1 + e^-2z) - 1 is off by ULPs of 1 at small z."""


def test_tanh_through_exp_is_within_the_allowance_near_zero():
    c = draw_case(*ZERO_INPUT_TANH)
    args = (c.arch, c.params, c.x, c.y)
    got = alternatives.exp_formulas(*args)
    ref, extended, allowed = (
        reference.gradients(*args),
        alternatives.extended_gradients(*args),
        allowance(*args),
    )
    assert not beyond(got, ref, doubled(allowed)) and not beyond(got, extended, allowed)


def test_with_tanh_terms_counted_relative_to_tanh_itself_it_would_be_flagged(monkeypatch):
    """The planted narrower policy, tanh's terms being |tanh z| alone (a library tanh only):
    the same implementation is then beyond the allowance, so the test above could fail."""
    from dataclasses import replace

    from verification.oracles.rounding import ROUNDING

    relative_only = replace(ROUNDING["tanh"], value_terms=lambda z: np.abs(np.tanh(z)))
    monkeypatch.setitem(ROUNDING, "tanh", relative_only)
    c = draw_case(*ZERO_INPUT_TANH)
    args = (c.arch, c.params, c.x, c.y)
    assert beyond(
        alternatives.exp_formulas(*args), reference.gradients(*args), doubled(allowance(*args))
    )


@pytest.mark.parametrize(
    ("name", "options"),
    [
        (
            "overflowing_sigmoid",
            {"activations": ("sigmoid", "identity"), "losses": ("binary_cross_entropy",)},
        ),
        ("overflowing_softplus", {"activations": ("softplus",)}),
    ],
)
def test_formulas_that_overflow_are_out_of_the_class_and_the_gate_fails_them(name, options):
    """e^z / (1 + e^z) and an unguarded log(1 + e^z) return NaN or inf past z = 709.78, which
    the gate's saturated and large-logit cases reach: a bug it must keep catching."""
    import verification

    report = verification.check(
        alternatives.BROKEN[name], cases=200, seed=0, shrink_failures=0, **options
    )
    assert not report.ok
    assert any(f.kind == "non-finite" for f in report.failures), [f.kind for f in report.failures]
