"""Each diagnosis fires on a bug planted for it, and never on a correct result.

The zoo (test_bug_zoo.py) measures the share of each bug's failing cases that name its
diagnosis; the bugs planted here cover the variants of the detectors that the zoo does not
(a scope, another convention, one array only), the patterns, overflow, float32 and state.
"""

import numpy as np
import pytest

import reference
from reference import Architecture
from verification.cases import Case, CaseOptions, draw_case
from verification.judge import InProcess, judge
from verification.judge.diagnoses import DIAGNOSES, established
from verification.judge.hypotheses import Trace
from verification.judge.known_bugs import hypotheses
from verification.judge.magnitudes import OVERFLOWS, overflow_origin
from verification.oracles.tolerance import allowance
from verification.tests import alternatives
from verification.zoo import bugs
from verification.zoo.bugs import DPHI, Textbook

SEED = 3
U = 2.0**-53  # float64's unit roundoff
RELATIVE_ROUNDINGS = 8  # a bound is a sum of a few products of magnitudes, each off by an ULP
SEARCHED = 60  # cases searched for one that the planted bug fails


def first_failure(impl, options: CaseOptions, seed: int = SEED, min_depth: int = 1):
    """The first case of the stream (of depth min_depth or more) that `impl` fails, and its
    verdict."""
    for index in range(SEARCHED):
        case = draw_case(seed, index, options)
        if min_depth > case.L:  # (case.L, not a constant)
            continue
        verdict = judge(InProcess(impl), case)
        if not verdict.passed:
            return case, verdict
    raise AssertionError(f"no failing case among {SEARCHED}")


# --- the engine -----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["squared_error", "binary_cross_entropy", "cross_entropy"])
def test_without_a_change_the_bounds_are_the_allowance(loss):
    """The null hypothesis carries tolerance.allowance itself (cross_entropy: at most it, since
    the tolerance module bounds its delta^L with n dE/dh^L, a looser magnitude). The two are
    computed from two traces of the case, this module's and the reference's, whose magnitudes
    may differ by a rounding (the reference computes sigma(h) - y in double-double): equal to
    within RELATIVE_ROUNDINGS units of float64 roundoff."""
    for index in range(40):
        case = draw_case(SEED, index, CaseOptions(losses=(loss,)))
        ours = Trace(case).allowance()
        theirs = allowance(case.arch, case.params, case.x, case.y)
        for (aW, ab), (bW, bb) in zip(ours, theirs, strict=True):
            for a, b in ((aW, bW), (ab, bb)):
                if loss == "cross_entropy":
                    assert np.all(a <= b), case.describe()
                else:
                    assert np.all(np.abs(a - b) <= RELATIVE_ROUNDINGS * U * b), case.describe()


def test_every_hypothesis_and_overflow_record_is_known():
    for index in range(30):
        trace = Trace(draw_case(SEED, index))
        assert {h.name for h in hypotheses(trace)} <= set(DIAGNOSES)
    assert set(OVERFLOWS) == set(reference.ACTIVATIONS) | set(reference.LOSSES)


# --- no diagnosis on correct results ----------------------------------------------------------

CORRECT = {
    "reference": reference.gradients,
    "Textbook": Textbook(),
    "textbook": alternatives.textbook,
    "shuffled_order": alternatives.shuffled_order,
    "logsumexp": alternatives.logsumexp,
    "torch_autograd": alternatives.torch_gradients,
}


@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_result_supports_no_diagnosis(name):
    """Every detector (hypotheses, float32, the patterns of every array) on correct results,
    whether or not they would fail: benchmarks/diagnoses.py runs 500 cases of each."""
    impl = CORRECT[name]
    for index in range(25):
        case = draw_case(11, index)
        found = established(case, impl(case.arch, case.params, case.x, case.y))
        assert not found, (name, case.describe(), [d.text for d in found])


# --- the detectors, each on a bug planted for it ----------------------------------------------


class DphiAtHInHiddenLayers(Textbook):
    def hidden_delta(self, arch, params, z, h, delta_next, l):
        return DPHI[arch.activations[l - 1]](h[l]) * (delta_next @ params[l][0].T)


class DphiAtHAtTheOutput(Textbook):
    def output_delta(self, arch, z_L, h_L, y):
        return DPHI[arch.activations[-1]](h_L) * self.loss_gradient(arch.loss, h_L, y)


class ReluSlopeHalfAtZero(Textbook):
    def dphi(self, name, z, h):
        if name == "relu":
            return np.where(z > 0, 1.0, np.where(z == 0, 0.5, 0.0))  # autograd's np.maximum
        return super().dphi(name, z, h)


class NoSlopeAnywhere(Textbook):
    def dphi(self, name, z, h):
        return np.ones_like(z)


class WeightGradientAveraged(Textbook):
    def weight_gradient(self, h, delta, l):
        return h[l - 1].T @ delta / delta.shape[0]


class HalfTwiceInSquaredError(Textbook):
    def loss_gradient(self, loss, h, y):
        return super().loss_gradient(loss, h, y) / 2


class TanhSlopeOfZ(Textbook):
    def dphi(self, name, z, h):
        return 1 - z**2 if name == "tanh" else super().dphi(name, z, h)


class SigmoidSlopeWithoutOneMinus(Textbook):
    def dphi(self, name, z, h):
        return bugs._sigmoid(z) if name == "sigmoid" else super().dphi(name, z, h)


class LogitsClippedAt20ByAutodiff(Textbook):
    def loss_gradient(self, loss, h, y):
        g = super().loss_gradient(loss, np.clip(h, -20, 20), y)
        return np.where(np.abs(h) > 20, 0.0, g)


class FirstLayerLeftOut(Textbook):
    def finish(self, arch, params, grads):
        return grads[1:]


class MixedPrecision(Textbook):
    """Only W^l is cast to float32; numpy then computes h W in float64."""

    def pre_activation(self, h_prev, W, b):
        return h_prev @ W.astype(np.float32) + b


PLANTED = [
    (DphiAtHInHiddenLayers, {"activations": ("tanh",), "max_depth": 3}, "dphi_at_h", "hidden"),
    (DphiAtHAtTheOutput, {"activations": ("sigmoid",)}, "dphi_at_h", "output layer"),
    (ReluSlopeHalfAtZero, {"activations": ("relu",), "regimes": ("kinks",)}, "kink_convention",
     "relu'(0) = 0.5"),
    (NoSlopeAnywhere, {"activations": ("tanh",)}, "dropped_term", "every layer"),
    (WeightGradientAveraged, {"activations": ("tanh",)}, "doubled_mean", "dE/dW only"),
    (HalfTwiceInSquaredError, {"losses": ("squared_error",), "activations": ("tanh",)},
     "squared_error_factor", "a factor 1/2"),
    (TanhSlopeOfZ, {"activations": ("tanh",)}, "wrong_slope", "1 - z^2"),
    (SigmoidSlopeWithoutOneMinus, {"activations": ("sigmoid",)}, "wrong_slope", "sigma(z)"),
    (LogitsClippedAt20ByAutodiff, {"losses": ("binary_cross_entropy",), "regimes":
     ("large_logits", "tiny_gradients")}, "clipped_logits", "[-20, 20]"),
    (FirstLayerLeftOut, {"max_depth": 3}, "off_by_one_layer", "layer 1 left out"),
    (MixedPrecision, {"activations": ("tanh", "identity")}, "float32_inside", "float32"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bug", "options", "name", "phrase"), PLANTED, ids=[p[0].__name__ for p in PLANTED]
)
def test_a_planted_bug_gets_its_diagnosis(bug, options, name, phrase):
    # two layers at least, so that "the hidden layers" and "the output layer" differ from
    # "every layer"
    case, verdict = first_failure(bug(), CaseOptions(**options), min_depth=2)
    diagnosis = verdict.findings[0].diagnosis
    assert diagnosis is not None, (case.describe(), verdict.findings[0].message)
    # named first, or as an alternative this case cannot tell apart from the first
    texts = dict([(diagnosis.name, diagnosis.text), *reversed(diagnosis.also)])
    assert phrase in texts.get(name, ""), (case.describe(), diagnosis)
    # the control: on the same case, the correct Textbook supports no diagnosis
    assert not established(case, Textbook()(case.arch, case.params, case.x, case.y))


# --- patterns in one array --------------------------------------------------------------------


def _one_array_changed(change, param="W"):
    def impl(arch, params, x, y):
        grads = reference.gradients(arch, params, x, y)
        gW, gb = grads[-1]
        grads[-1] = (change(gW), gb) if param == "W" else (gW, change(gb))
        return grads

    return impl


@pytest.mark.parametrize(
    ("change", "name", "phrase"),
    [
        (lambda g: -g, "sign", "the sign is flipped in dE/dW^"),
        (lambda g: 3 * g, "constant_factor", "is 3 times the expected gradient"),
        (lambda g: 0 * g, "zero_gradient", "is exactly 0 everywhere"),
    ],
)
def test_a_pattern_in_one_array_is_named_with_the_array(change, name, phrase):
    options = CaseOptions(activations=("tanh",), losses=("squared_error",))
    _, verdict = first_failure(_one_array_changed(change), options)
    diagnosis = verdict.findings[0].diagnosis
    assert diagnosis is not None and diagnosis.name == name and phrase in diagnosis.text


def test_a_transposed_square_array_is_named_but_never_a_one_by_one():
    square = Case(
        Architecture((3, 3), ("tanh",), "squared_error"),
        [(np.arange(9.0).reshape(3, 3) / 7 - 0.5, np.array([0.1, -0.2, 0.3]))],
        np.array([[1.0, -2.0, 0.5], [0.25, 1.5, -1.0]]),
        np.array([[0.1, 0.2, 0.3], [0.0, -0.1, 0.4]]),
        "plain",
    )
    verdict = judge(InProcess(_one_array_changed(np.transpose)), square)
    assert verdict.findings[0].diagnosis.name == "transposed_weight_gradient"
    # a GELU bug (a wrong constant in phi') on saturated and tiny gradients: whatever it is
    # named, it is never a transpose (a 1 x 1 array equals its transpose)
    for index in range(40):
        case = draw_case(SEED, index, CaseOptions(activations=("gelu_tanh",)))
        returned = GeluWrongConstant()(case.arch, case.params, case.x, case.y)
        names = {d.name for d in established(case, returned)}
        assert "transposed_weight_gradient" not in names, case.describe()


class GeluWrongConstant(Textbook):
    def dphi(self, name, z, h):
        return DPHI[name](1.01 * z) if name == "gelu_tanh" else super().dphi(name, z, h)


# --- overflow, state ----------------------------------------------------------------------------


def _overflowing_case() -> Case:
    """softplus in layer 1 of 2 with z^1 = 800: log(1 + e^z) overflows there."""
    return Case(
        Architecture((1, 2, 1), ("softplus", "tanh"), "squared_error"),
        [(np.array([[400.0, 0.5]]), np.zeros(2)), (np.array([[1e-3], [0.5]]), np.zeros(1))],
        np.array([[2.0]]),
        np.array([[0.5]]),
        "plain",
    )


def test_a_non_finite_result_names_the_layer_and_the_magnitude_where_the_overflow_starts():
    case = _overflowing_case()
    origin = overflow_origin(case)
    assert (origin.layer, origin.quantity, origin.value) == (1, "z^1", 800.0)
    verdict = judge(InProcess(bugs.OverflowingSoftplus()), case)
    finding = verdict.findings[0]
    assert finding.kind == "non-finite" and finding.layer == 1, finding
    assert "it starts in layer 1: z^1 reaches 800 in layer 1 (softplus)" in finding.message
    assert finding.diagnosis.name == "overflow" and "log1p" in finding.diagnosis.text


def test_an_overflow_exception_names_the_input_that_caused_it():
    def raises_on_overflow(arch, params, x, y):
        W, b = params[0]
        with np.errstate(over="raise"):
            np.log(1 + np.exp(x @ W + b))  # FloatingPointError: overflow encountered in exp
        return reference.gradients(arch, params, x, y)

    case = _overflowing_case()
    finding = judge(InProcess(raises_on_overflow), case).findings[0]
    assert finding.kind == "exception" and finding.layer == 1
    assert "FloatingPointError" in finding.message and "z^1 reaches 800" in finding.message
    assert finding.diagnosis.name == "overflow"


def test_a_float32_overflow_is_float32_inside():
    case = _overflowing_case()
    small = Case(case.arch, [(W / 5, b) for W, b in case.params], case.x, case.y, "plain")
    assert overflow_origin(small) is None  # z^1 = 160: fine in float64, past 88.72 in float32
    assert overflow_origin(small, precision="float32").value == 160.0


class DriftsFromCallToCall(Textbook):
    """Right on its first call, then off by 1e-3 more on each call (state that persists)."""

    def __init__(self):
        self.calls = 0

    def finish(self, arch, params, grads):
        drift = 1 + 1e-3 * self.calls
        self.calls += 1
        return [(drift * gW, drift * gb) for gW, gb in grads]


def test_state_across_calls_is_told_apart_from_accumulation():
    options = CaseOptions(activations=("tanh",))
    _, verdict = first_failure(DriftsFromCallToCall(), options)
    finding = verdict.findings[0]
    assert finding.kind == "nondeterministic"
    assert finding.diagnosis.name == "persistent_state"
    _, verdict = first_failure(bugs.AccumulatesAcrossCalls(), options)
    assert verdict.findings[0].diagnosis.name == "accumulation"
    assert "accumulated" in verdict.findings[0].diagnosis.text
