"""The seeded case generator: reproducible, independent per index, within the options, valid,
covering the small sizes, and hard in each regime (each hardness check is shown to fail on a
case that is not hard)."""

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

import reference
from reference import ACTIVATIONS, LOSSES, Architecture
from verification.cases import CROSS_ENTROPIES, REGIMES, Case, CaseOptions, draw_case, draw_cases
from verification.cases.draw import exact_depth
from verification.cases.options import EXACT, KINKED, SATURATING

SEED = 20261128
STREAM = 600  # cases drawn once for the statistical tests below (about 0.1 s)
SATURATED_Z = 20.0  # the brief's "saturated": |z| >= 20
LARGE_LOGIT = 1e3  # the brief's "large logits": |h^L| >= 1e3
TINY_GRADIENT = 1e-30  # the brief's "tiny gradients": dE/dW ~ 1e-30 and below


@pytest.fixture(scope="module")
def stream() -> list[Case]:
    return list(draw_cases(SEED, STREAM))


def of_regime(stream: list[Case], regime: str) -> list[Case]:
    chosen = [case for case in stream if case.regime == regime]
    assert len(chosen) >= 20, f"only {len(chosen)} {regime} cases in {len(stream)}"
    return chosen


# --- what makes a case hard: predicates, each tested on a case that is not hard -------------


def saturated_layers(case: Case) -> list[tuple[int, bool]]:
    """(l, fully) for each layer with a saturating activation and some |z^l| >= 20; fully:
    every unit of the layer is so."""
    z = reference.forward(case.arch, case.params, case.x).z
    return [
        (l, bool((np.abs(z[l]) >= SATURATED_Z).all()))
        for l in range(1, case.L + 1)
        if case.arch.activations[l - 1] in SATURATING and (np.abs(z[l]) >= SATURATED_Z).any()
    ]


def exactly_computed_layers(case: Case) -> list[int]:
    """The layers l whose float64 z^l equals h^{l-1} W^l + b^l computed in exact fractions,
    from x up through identity and relu layers (the only ones whose exact h^l is known)."""
    h = np.vectorize(Fraction, otypes=[object])(case.x)
    z_float = reference.forward(case.arch, case.params, case.x).z
    exact = []
    for l, (W, b) in enumerate(case.params, start=1):
        as_fractions = np.vectorize(Fraction, otypes=[object])
        z = h @ as_fractions(W) + as_fractions(b)
        if not (as_fractions(z_float[l]) == z).all():
            break
        exact.append(l)
        name = case.arch.activations[l - 1]
        if name not in EXACT:
            break
        h = z if name == "identity" else np.where(z > 0, z, Fraction(0))
    return exact


def exact_kinks(case: Case) -> list[tuple[int, int]]:
    """(l, count) for each exactly computed layer with a kinked activation and `count` > 0
    entries of z^l exactly at the kink 0."""
    z = reference.forward(case.arch, case.params, case.x).z
    found = []
    for l in exactly_computed_layers(case):
        if case.arch.activations[l - 1] in KINKED and (z[l] == 0).any():
            found.append((l, int((z[l] == 0).sum())))
    return found


def largest_gradient(case: Case) -> float:
    grads = reference.gradients(case.arch, case.params, case.x, case.y)
    return max(max(np.abs(grad_W).max(), np.abs(grad_b).max()) for grad_W, grad_b in grads)


def handmade(activation: str, x: list, W: list, b: list, loss: str = "squared_error") -> Case:
    """A one-layer case from literal values."""
    W = np.array(W, dtype=float)
    arch = Architecture((W.shape[0], W.shape[1]), (activation,), loss)
    x = np.array(x, dtype=float)
    y = np.zeros((x.shape[0], W.shape[1]))
    return Case(arch, [(W, np.array(b, dtype=float))], x, y, "plain")


def test_saturation_check_rejects_a_unit_below_20() -> None:
    assert saturated_layers(handmade("tanh", [[1.0]], [[19.0]], [0.5])) == []
    assert saturated_layers(handmade("relu", [[1.0]], [[100.0]], [0.0])) == []  # not saturating
    assert saturated_layers(handmade("tanh", [[1.0]], [[19.0, 1.0]], [1.0, 0.0])) == [(1, False)]


def test_exactness_check_rejects_a_rounded_sum() -> None:
    # 0.1 + 0.2 rounds in float64: z^1 = 0.30000000000000004 is not the exact sum
    assert exactly_computed_layers(handmade("relu", [[0.1, 0.2]], [[1.0], [1.0]], [0.0])) == []
    assert exactly_computed_layers(handmade("relu", [[0.5, 0.25]], [[1.0], [1.0]], [0.0])) == [1]


def test_kink_check_rejects_a_zero_of_a_smooth_or_inexact_layer() -> None:
    assert exact_kinks(handmade("tanh", [[1.0]], [[1.0]], [-1.0])) == []
    assert exact_kinks(handmade("relu", [[1.0]], [[1.0]], [-0.5])) == []  # z = 0.5, no zero
    assert exact_kinks(handmade("relu", [[1.0]], [[1.0]], [-1.0])) == [(1, 1)]


# --- reproducible and independent -----------------------------------------------------------


def test_case_equality_is_bitwise_on_every_array() -> None:
    case = draw_case(SEED, 3)
    assert case == draw_case(SEED, 3)
    W, b = case.params[0]
    nudged = W.copy()
    nudged.flat[0] = np.nextafter(nudged.flat[0], np.inf)
    params = [(nudged, b), *case.params[1:]]
    assert Case(case.arch, params, case.x, case.y, case.regime, case.seed, case.index) != case
    assert Case(case.arch, case.params, case.x, case.y, case.regime, case.seed, 4) != case


def test_the_same_seed_and_index_give_the_identical_case() -> None:
    for index in range(40):
        first, again = draw_case(SEED, index), draw_case(SEED, index)
        assert first == again, f"case {index}: {first.describe()} != {again.describe()}"
        assert (first.seed, first.index) == (SEED, index)


def test_different_indices_and_seeds_give_different_cases() -> None:
    cases = [draw_case(SEED, index) for index in range(40)]
    for i, case in enumerate(cases):
        for j in range(i):
            assert case.x.shape != cases[j].x.shape or not np.array_equal(case.x, cases[j].x)
    assert draw_case(SEED + 1, 0).x.tobytes() != cases[0].x.tobytes()


def test_draw_case_alone_equals_the_same_index_of_draw_cases(stream: list[Case]) -> None:
    for index in (0, 1, 17, 250, STREAM - 1):
        assert draw_case(SEED, index) == stream[index], f"index {index}"


def test_draw_cases_with_options_matches_draw_case_with_the_same_options() -> None:
    options = CaseOptions(activations=("relu", "tanh"), max_depth=3)
    for index, case in enumerate(draw_cases(5, 30, options)):
        assert case == draw_case(5, index, options)


# --- within the options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        CaseOptions(max_depth=2, max_width=3, max_batch=2),
        CaseOptions(activations=("relu",), losses=("cross_entropy",)),
        CaseOptions(activations=("tanh", "sigmoid"), losses=("squared_error",), max_width=40),
        CaseOptions(activations=("identity",), losses=("binary_cross_entropy",)),
        CaseOptions(regimes=("kinks", "large_logits"), max_depth=1),
    ],
    ids=repr,
)
def test_every_case_stays_within_its_options(options: CaseOptions) -> None:
    for case in draw_cases(SEED, 150, options):
        where = case.describe()
        assert 1 <= case.L <= options.max_depth, where
        assert all(1 <= n_l <= options.max_width for n_l in case.arch.sizes), where
        assert 1 <= case.n <= options.max_batch, where
        assert set(case.arch.activations) <= set(options.activations), where
        assert case.arch.loss in options.losses, where
        assert case.regime in options.regimes, where


def test_regimes_the_options_make_impossible_are_replaced_by_possible_ones() -> None:
    # no kinked activation, no cross-entropy: neither kinks nor large_logits can be drawn
    options = CaseOptions(activations=("tanh", "sigmoid"), losses=("squared_error",))
    seen = Counter(case.regime for case in draw_cases(SEED, 300, options))
    assert set(seen) == {"plain", "saturated", "zero_inputs", "tiny_gradients"}, seen
    # relu only: no saturated regime, but kinks
    seen = Counter(
        case.regime for case in draw_cases(SEED, 300, CaseOptions(activations=("relu",)))
    )
    assert "saturated" not in seen and seen["kinks"] > 0, seen


# --- valid, covering the small sizes, every regime ------------------------------------------


def test_every_case_is_valid_input_with_finite_error_and_gradients(stream: list[Case]) -> None:
    for case in stream:
        where = f"case {case.index}: {case.describe()}"
        assert case.x.dtype == np.float64 and case.x.shape == (case.n, case.arch.sizes[0])
        for W, b in case.params:
            assert W.dtype == b.dtype == np.float64, where
        assert np.isfinite(case.x).all(), where
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            bp = reference.backprop(case.arch, case.params, case.x, case.y)
        assert np.isfinite(bp.E), where
        for l in range(1, case.L + 1):
            assert np.isfinite(bp.grad_W[l]).all() and np.isfinite(bp.grad_b[l]).all(), where


def test_targets_follow_the_contract_for_each_loss(stream: list[Case]) -> None:
    bce = [case.y for case in stream if case.arch.loss == "binary_cross_entropy"]
    values = np.concatenate([y.ravel() for y in bce])
    assert ((values >= 0) & (values <= 1)).all()
    assert (values == 0).any() and (values == 1).any() and ((values > 0) & (values < 1)).any()
    for case in stream:
        if case.arch.loss == "cross_entropy":
            assert case.y.dtype == np.int64 and case.y.shape == (case.n,)
            assert ((case.y >= 0) & (case.y < case.arch.sizes[-1])).all()
        else:
            assert case.y.dtype == np.float64 and case.y.shape == (case.n, case.arch.sizes[-1])


def test_depth_1_width_1_and_batch_1_come_often(stream: list[Case]) -> None:
    def share(predicate) -> float:
        return sum(map(predicate, stream)) / len(stream)

    assert share(lambda case: case.L == 1) > 0.1
    assert share(lambda case: case.n == 1) > 0.1
    assert share(lambda case: 1 in case.arch.sizes) > 0.2
    assert share(lambda case: case.arch.sizes[0] == 1) > 0.05  # one input
    assert share(lambda case: case.arch.sizes[-1] == 1) > 0.05  # one output
    assert {case.L for case in stream} == set(range(1, 7))
    assert {case.n for case in stream} == set(range(1, 9))
    assert {n_l for case in stream for n_l in case.arch.sizes} == set(range(1, 17))


def test_every_activation_loss_and_regime_comes_with_a_real_share(stream: list[Case]) -> None:
    regimes = Counter(case.regime for case in stream)
    assert 0.35 < regimes["plain"] / STREAM < 0.55, regimes
    for regime in REGIMES[1:]:
        assert regimes[regime] / STREAM > 0.06, regimes
    activations = Counter(name for case in stream for name in case.arch.activations)
    assert set(activations) == set(ACTIVATIONS), activations
    assert min(activations.values()) > 0.03 * activations.total(), activations
    assert set(Counter(case.arch.loss for case in stream)) == set(LOSSES)
    mixed = [case for case in stream if len(set(case.arch.activations)) >= 3]
    assert len(mixed) > 0.1 * STREAM


# --- each regime is hard --------------------------------------------------------------------


def test_saturated_cases_have_units_beyond_20_and_some_layers_fully(stream: list[Case]) -> None:
    cases = of_regime(stream, "saturated")
    fully = 0
    for case in cases:
        layers = saturated_layers(case)
        assert layers, f"case {case.index}: {case.describe()}: no |z| >= 20 at a saturating unit"
        fully += any(full for _, full in layers)
    assert fully > 0.3 * len(cases), f"{fully} of {len(cases)} with a fully saturated layer"


def test_kink_cases_put_units_exactly_at_the_kink_with_z_computed_exactly(
    stream: list[Case],
) -> None:
    for case in of_regime(stream, "kinks"):
        assert exact_kinks(case), f"case {case.index}: {case.describe()}: no exact zero at a kink"


def test_kink_cases_carry_a_nonzero_error_through_units_at_the_kink(stream: list[Case]) -> None:
    """Where delta^{l+1} (W^{l+1})^T (or dE/dh^L) is nonzero at a unit with z = 0, the value
    taken for phi'(0) changes the gradient: an implementation with relu'(0) = 1 is caught."""
    cases = of_regime(stream, "kinks")
    telling = 0
    for case in cases:
        bp = reference.backprop(case.arch, case.params, case.x, case.y)
        for l, _ in exact_kinks(case):
            if l < case.L:
                W_next, _ = case.params[l]  # W^{l+1} is params[l]
                arriving = bp.delta[l + 1] @ W_next.T
            else:
                arriving = case.arch.loss_function.grad(bp.h[case.L], case.y)
            telling += bool((arriving[bp.z[l] == 0] != 0).any())
    assert telling > 0.3 * len(cases), f"{telling} kink layers of {len(cases)} cases tell"


def test_exact_depth_keeps_every_partial_sum_below_2_to_53() -> None:
    assert exact_depth((16,) * 7) == 6
    assert exact_depth((100,) * 7) == 5  # (2 * 100)^6 * 2 * 2^7 > 2^52
    options = CaseOptions(
        activations=("relu", "identity"), regimes=("kinks",), max_width=100, max_batch=1
    )
    for case in draw_cases(SEED, 4, options):
        assert exact_kinks(case), case.describe()


def test_zero_input_cases_have_zero_rows_or_columns_of_x(stream: list[Case]) -> None:
    cases = of_regime(stream, "zero_inputs")
    zero_W = 0
    for case in cases:
        x = case.x
        assert (x == 0).all(axis=0).any() or (x == 0).all(axis=1).any(), case.describe()
        zero_W += any(
            (W == 0).all(axis=0).any() or (W == 0).all(axis=1).any() for W, _ in case.params
        )
    assert zero_W > 0.3 * len(cases)


def test_large_logit_cases_reach_1e3_with_a_cross_entropy(stream: list[Case]) -> None:
    for case in of_regime(stream, "large_logits"):
        h_L = reference.forward(case.arch, case.params, case.x).h[case.L]
        assert case.arch.loss in CROSS_ENTROPIES, case.describe()
        assert np.abs(h_L).max() >= LARGE_LOGIT, f"{case.describe()}: max |h^L| {abs(h_L).max()}"


def test_tiny_gradient_cases_have_every_gradient_below_1e_30(stream: list[Case]) -> None:
    cases = of_regime(stream, "tiny_gradients")
    for case in cases:
        assert largest_gradient(case) <= TINY_GRADIENT, case.describe()
    assert sum(largest_gradient(case) > 0 for case in cases) > 0.5 * len(cases)


def test_plain_cases_are_not_hard(stream: list[Case]) -> None:
    """The hardness checks above can fail: on plain cases they mostly do."""
    plain = of_regime(stream, "plain")
    assert sum(largest_gradient(case) <= TINY_GRADIENT for case in plain) < 0.15 * len(plain)
    assert sum(bool(saturated_layers(case)) for case in plain) < 0.15 * len(plain)


# --- argument checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"activations": ("relu", "swish")}, ValueError, "'swish' is unknown; valid names: "),
        ({"losses": ("hinge",)}, ValueError, "'hinge' is unknown; valid names: squared_error"),
        ({"regimes": ("easy",)}, ValueError, "'easy' is unknown; valid names: plain"),
        ({"activations": ()}, ValueError, "activations is empty"),
        ({"losses": []}, ValueError, "losses is empty"),
        ({"activations": 3}, TypeError, "activations has type int, but should be a name or a"),
        ({"activations": "swish"}, ValueError, "'swish' is unknown; valid names: "),
        ({"max_depth": 0}, ValueError, "max_depth = 0, but should be an int >= 1"),
        ({"max_width": 2.5}, ValueError, "max_width = 2.5, but should be an int >= 1"),
        ({"max_batch": True}, ValueError, "max_batch = True, but should be an int >= 1"),
        (
            {"activations": ("tanh",), "regimes": ("kinks",)},
            ValueError,
            "regime kinks needs one of the activations relu, leaky_relu, elu",
        ),
        (
            {"losses": ("cross_entropy",), "max_width": 1},
            ValueError,
            "cross_entropy with an output width n_L = 1 cannot show a wrong",
        ),
        (
            {"losses": ("squared_error",), "regimes": ("large_logits",)},
            ValueError,
            "regime large_logits needs one of the losses cross_entropy",
        ),
    ],
)
def test_case_options_reject_bad_arguments_naming_them(arguments, error, message) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        CaseOptions(**arguments)


def test_case_options_take_a_string_as_one_name() -> None:
    options = CaseOptions(activations="tanh", losses="squared_error", regimes="plain")
    assert options.activations == ("tanh",) and options.losses == ("squared_error",)
    assert options.regimes == ("plain",)


def test_case_options_accept_lists_and_keep_them_as_tuples() -> None:
    options = CaseOptions(activations=["relu"], losses=["squared_error"])
    assert options.activations == ("relu",) and options.losses == ("squared_error",)
    assert hash(options) == hash(CaseOptions(activations=("relu",), losses=("squared_error",)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: draw_case(-1, 0), "seed = -1, but should be an int >= 0"),
        (lambda: draw_case(0, 1.5), "index = 1.5, but should be an int >= 0"),
        (lambda: draw_cases(0, -3), "count = -3, but should be an int >= 0"),
    ],
)
def test_draw_rejects_a_bad_seed_index_or_count(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_draw_rejects_options_that_are_not_case_options() -> None:
    with pytest.raises(TypeError, match="options has type dict, but should be CaseOptions"):
        draw_case(0, 0, {"max_depth": 2})
    with pytest.raises(TypeError, match="options has type dict"):
        draw_cases(0, 3, {"max_depth": 2})


def test_describe_names_depth_sizes_activations_loss_batch_and_regime() -> None:
    W = np.ones((2, 1))
    arch = Architecture((2, 1), ("relu",), "cross_entropy")
    case = Case(arch, [(W, np.zeros(1))], np.zeros((3, 2)), np.zeros(3, np.int64), "kinks")
    assert case.describe() == "L=1 sizes=(2, 1) relu cross_entropy n=3 regime=kinks"
    assert "regime='kinks'" in repr(case) and "array([[1.]," in repr(case)
