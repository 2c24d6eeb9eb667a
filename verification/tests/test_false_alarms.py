"""The gate passes correct code: a slice of benchmarks/sweep_false_alarms.py that fits the suite.

Every correct implementation (the reference, alternatives.CORRECT, the bug zoo's Textbook) must
pass the gate's judge on the cases where the gate used to fail correct code (the issue's case
151 and every case a sweep of seeds 0-2, 2,000 cases per hidden activation and loss, found
before the finite-difference steps and the tanh terms changed), and on a stretch of the
default stream. The same judge fails a planted relative error of 1e-6 on each of those cases,
so passing is not vacuous.
"""

import pytest

import reference
from verification.cases import CaseOptions, draw_case
from verification.oracles.consult import Oracles
from verification.tests import alternatives
from verification.tests.judging import approximate_verdict
from verification.zoo.bugs import Textbook

CORRECT = {
    "reference": reference.gradients,
    **alternatives.CORRECT,
    "zoo_textbook": Textbook(),
}

FORMER_FALSE_ALARMS = {
    (0, "elu", "binary_cross_entropy"): (277,),
    (0, "elu", "squared_error"): (264, 608, 1386, 1765),
    (0, "gelu_tanh", "binary_cross_entropy"): (1386, 1765),
    (0, "gelu_tanh", "squared_error"): (264, 454, 1262, 1386),
    (0, "softplus", "binary_cross_entropy"): (1386, 1765),
    (0, "softplus", "squared_error"): (264, 454, 1262, 1386),
    (0, "tanh", "squared_error"): (131,),
    (1, "elu", "binary_cross_entropy"): (1006,),
    (1, "elu", "cross_entropy"): (223,),
    (1, "elu", "squared_error"): (223, 362, 1006, 1139, 1160, 1893),
    (1, "gelu_tanh", "binary_cross_entropy"): (151, 362, 1139, 1893),
    (1, "gelu_tanh", "cross_entropy"): (223, 362),
    (1, "gelu_tanh", "squared_error"): (362, 457, 1030, 1139, 1160),
    (1, "softplus", "binary_cross_entropy"): (151, 362, 1139, 1893),
    (1, "softplus", "cross_entropy"): (223, 362),
    (1, "softplus", "squared_error"): (362, 457, 1030, 1139, 1160),
    (1, "tanh", "binary_cross_entropy"): (924, 1272, 1484),
    (1, "tanh", "cross_entropy"): (924, 1484),
    (1, "tanh", "squared_error"): (924, 1272, 1484, 1978),
    (2, "elu", "binary_cross_entropy"): (745,),
    (2, "elu", "squared_error"): (1045, 1745),
    (2, "gelu_tanh", "binary_cross_entropy"): (1045, 1307),
    (2, "gelu_tanh", "squared_error"): (1067, 1582),
    (2, "softplus", "binary_cross_entropy"): (1045, 1307),
    (2, "softplus", "squared_error"): (1067, 1582),
    (2, "tanh", "binary_cross_entropy"): (833, 1452),
    (2, "tanh", "cross_entropy"): (1452,),
    (2, "tanh", "squared_error"): (833, 1452),
}
"""(seed, hidden activation, loss): case indices of `--activations A --losses LOSS --seed S`
that failed correct code before: all but the tanh ones against finite differences in the
saturated regime (the reference among them); the tanh ones failed tanh via 2 / (1 + e^-2z) - 1
against torch.autograd in the zero_inputs regime."""


def former_false_alarms() -> list:
    return [
        pytest.param(seed, activation, loss, index, id=f"{activation}-{loss}-{seed}-{index}")
        for (seed, activation, loss), indices in FORMER_FALSE_ALARMS.items()
        for index in indices
    ]


def failing(case, oracles: Oracles) -> dict[str, str]:
    found = {}
    for name, impl in CORRECT.items():
        verdict = approximate_verdict(impl, case, oracles)
        if not verdict.passed:
            found[name] = verdict.findings[0].message
    return found


@pytest.mark.parametrize(("seed", "activation", "loss", "index"), former_false_alarms())
def test_correct_code_passes_where_the_gate_failed_it_before_and_a_planted_error_fails(
    seed, activation, loss, index
):
    case = draw_case(seed, index, CaseOptions(activations=(activation,), losses=(loss,)))
    oracles = Oracles.of(case)
    assert not failing(case, oracles), case.describe()
    # passing means something there: every entry 1e-6 off fails
    assert not approximate_verdict(alternatives.relative_error, case, oracles).passed, (
        case.describe()
    )


def test_correct_code_passes_a_stretch_of_the_default_stream():
    found = {}
    for index in range(40):
        case = draw_case(3, index)
        found.update({f"case {index} {n}": m for n, m in failing(case, Oracles.of(case)).items()})
    assert not found, found
