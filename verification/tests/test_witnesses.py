"""Each failure says which witnesses judged its worst entry: torch.autograd, finite differences,
or both, and why finite differences did not (a kink, or no trustworthy step)."""

import numpy as np

import reference
from verification.cases import CaseOptions, draw_case
from verification.oracles import finite_differences as fd
from verification.oracles.finite_differences import parameters
from verification.report import Report, failure_from
from verification.tests import alternatives
from verification.tests.judging import approximate_verdict

ISSUE_CASE = (1, 151, CaseOptions(activations=("softplus",), losses=("binary_cross_entropy",)))


def failure_of(impl, case):
    verdict = approximate_verdict(impl, case)
    assert not verdict.passed
    return verdict, failure_from(verdict, None, CaseOptions(), "float64", None)


def test_an_entry_both_witnesses_judged_says_so():
    case = draw_case(0, 2, CaseOptions(activations=("tanh",), losses=("squared_error",)))
    _, failure = failure_of(alternatives.relative_error, case)
    assert "torch.autograd beyond allowance" in failure.witnesses
    assert "finite differences" in failure.witnesses and "did not judge" not in failure.witnesses
    assert f"  witnesses: {failure.witnesses}" in failure.render()


def test_an_entry_at_a_kink_was_judged_by_torch_alone():
    options = CaseOptions(activations=("relu",), regimes=("kinks",))
    for index in range(50):
        case = draw_case(0, index, options)
        verdict = approximate_verdict(alternatives.relu_prime_one, case)
        if not verdict.passed:
            break
    failure = failure_from(verdict, None, options, "float64", None)
    assert "torch.autograd beyond allowance" in failure.witnesses
    assert "finite differences did not judge it (kink)" in failure.witnesses


def test_an_entry_without_a_trustworthy_step_was_judged_by_torch_alone(monkeypatch):
    # one evaluation per parameter (read where each parameter is stepped): leaves the
    # far-reaching steps untrusted
    monkeypatch.setattr(parameters, "STEP_ROUNDS", 1)
    case = draw_case(*ISSUE_CASE)
    estimate = fd.central_differences(case.arch, case.params, case.x, case.y)
    l = max(l for l, (uW, _) in enumerate(estimate.untrusted, start=1) if uW.any())
    index = tuple(int(i) for i in np.argwhere(estimate.untrusted[l - 1][0])[0])

    def doubled_there(arch, params, x, y):
        grads = reference.gradients(arch, params, x, y)
        grads[l - 1][0][index] *= 2
        return grads

    verdict, failure = failure_of(doubled_there, case)
    assert (failure.layer, failure.param, tuple(failure.index)) == (l, "W", index)
    assert "torch.autograd beyond allowance" in failure.witnesses
    assert "finite differences did not judge it (no trustworthy step)" in failure.witnesses
    report = Report.gather("planted", 1, [verdict], [failure], 1.0)
    assert report.untrusted_entries == estimate.untrusted_count > 0
    assert f"{estimate.untrusted_count} without a trustworthy step" in report.summary()
