"""The exact witness rules on every disagreement before a case fails on a value: a witness's
false alarm is overruled, a real error is confirmed with its exact value, and the ruling is
made against the exact values it is given (a planted wrong witness is obeyed, not ignored)."""

import numpy as np

import reference
from verification import check
from verification.cases import CaseOptions, draw_case
from verification.judge.arbiter import EXACT
from verification.judge.values import Witness, judge_values
from verification.oracles.exact import GRADIENTS, exact_backprop
from verification.oracles.tolerance import allowance

PLAIN = CaseOptions(activations=("tanh",), regimes=("plain",))


def _setup(index: int = 3):
    case = draw_case(0, index, PLAIN)
    args = (case.arch, case.params, case.x, case.y)
    grads = reference.gradients(*args)
    return case, args, grads, allowance(*args)


def _exact(args):
    return lambda: exact_backprop(*args, need=GRADIENTS)


def test_a_false_alarm_of_an_approximate_witness_is_overruled() -> None:
    case, args, grads, allowed = _setup()
    lying = [(1.001 * W, 1.001 * b) for W, b in grads]  # a witness off by 0.1%
    witness = Witness("a lying witness", lying, allowed)
    assert judge_values(grads, case, [witness]) is not None  # alone, it fails the reference
    assert judge_values(grads, case, [witness], exact=_exact(args), allowed=allowed) is None


def test_a_real_error_is_confirmed_with_its_exact_value_and_who_flagged_it() -> None:
    case, args, grads, allowed = _setup()
    wrong = [(W * (1 + 1e-6), b) for W, b in grads]
    witness = Witness("torch.autograd", grads, [(2 * a, 2 * c) for a, c in allowed])
    found = judge_values(wrong, case, [witness], exact=_exact(args), allowed=allowed)
    assert found is not None and found.layer == case.L and found.param == "W"
    worst = next(m for m in found.mismatches if m.layer == found.layer)
    assert worst.oracle == EXACT and worst.witnesses == ("torch.autograd beyond allowance",)
    assert "the exact value is" in found.message and "ULP" in found.message
    exact_value = exact_backprop(*args).grad_W[case.L].value[worst.index]
    assert worst.expected == exact_value


def test_the_ruling_follows_the_exact_values_it_is_given() -> None:
    # planted bug: the "exact" gradients of another network (W^L a little larger)
    case, _, grads, allowed = _setup()
    params = [(W.copy(), b.copy()) for W, b in case.params]
    params[-1] = (params[-1][0] * 1.01, params[-1][1])
    other = (case.arch, params, case.x, case.y)
    witness = Witness("torch.autograd", [(1.001 * W, b) for W, b in grads], allowed)
    found = judge_values(grads, case, [witness], exact=_exact(other), allowed=allowed)
    assert found is not None and found.mismatches[0].oracle == EXACT


def test_the_finite_difference_false_alarm_of_six_softplus_layers_passes() -> None:
    report = check(
        None, seed=1, case=151, activations=["softplus"], losses=["binary_cross_entropy"]
    )
    assert report.ok, report.summary()
    assert np.isfinite(report.seconds)
