"""Finite differences never give a confident wrong answer: steps within reach of every curved
unit, a rounding bound through every layer's magnitudes, untrusted entries left unjudged.

The truth is the extended-precision gradient (alternatives.extended_gradients, within 2^-11 of
a float64 rounding of the exact one); an estimate is right when |estimate - truth| <= error +
2A, the finite-difference witness's allowance in the gate (verification.judge.values). Each
check is shown to fail where the mechanism it tests is taken away.
"""

from fractions import Fraction

import numpy as np
import pytest

import reference
from verification.cases import CaseOptions, draw_case
from verification.oracles import finite_differences as fd
from verification.oracles.finite_differences import (
    forward,
    gradients,
    inputs,
    noise,
    parameters,
    perturbed,
    steps,
)
from verification.oracles.tolerance import allowance
from verification.tests import alternatives
from verification.tests.judging import approximate_verdict

ISSUE_CASE = (1, 151, CaseOptions(activations=("softplus",), losses=("binary_cross_entropy",)))
"""Six softplus layers whose inputs reach 1e2 to 1e5 (`--activations softplus --losses
binary_cross_entropy --seed 1`, case 151): a step of eps^(1/3) max(|theta|, 1) in W^6 moves
z^6 by about 200, across softplus's curved region."""

NOISY_CASE = (0, 1386, CaseOptions(activations=("softplus",), losses=("squared_error",)))
"""Three saturated softplus layers, h^2 up to 3.7e4 feeding z^3 = 108: the rounding of h^2 far
exceeds the rounding of E's own terms."""


def case_of(seed: int, index: int, options: CaseOptions):
    c = draw_case(seed, index, options)
    return c.arch, c.params, c.x, c.y


def truth(case) -> list:
    with np.errstate(all="ignore"):
        return [
            (np.asarray(gW, np.float64), np.asarray(gb, np.float64))
            for gW, gb in alternatives.extended_gradients(*case)
        ]


def wrong_entries(estimate: fd.Estimate, case, *, with_allowance: bool = True) -> list[str]:
    """Judged entries where |estimate - truth| > error (+ 2A): one line each."""
    A = allowance(*case)
    lines = []
    for l, (exact, est, err, a, skip, untrusted) in enumerate(
        zip(
            truth(case),
            estimate.grads,
            estimate.error,
            A,
            estimate.skipped,
            estimate.untrusted,
            strict=True,
        ),
        start=1,
    ):
        for k, symbol in enumerate("Wb"):
            allowed = err[k] + (2 * a[k] if with_allowance else 0)
            off = (np.abs(est[k] - exact[k]) > allowed) & ~skip[k] & ~untrusted[k]
            for index in zip(*np.nonzero(off), strict=True):
                lines.append(
                    f"layer {l}: dE/d{symbol}{[int(i) for i in index]}: estimate "
                    f"{float(est[k][index])!r}, truth {float(exact[k][index])!r}, allowed "
                    f"{allowed[index]:.3g}"
                )
    return lines


def test_the_issue_case_is_estimated_within_its_error_and_the_reference_passes():
    case = case_of(*ISSUE_CASE)
    estimate = fd.central_differences(*case)
    assert not wrong_entries(estimate, case)
    c = draw_case(*ISSUE_CASE)
    verdict = approximate_verdict(reference.gradients, c)
    assert verdict.passed, verdict.findings[0].message


def test_a_step_on_the_parameters_scale_is_confidently_wrong_there():
    """The planted failure: the former step, eps^(1/3) max(|theta|, 1), evaluated once."""
    case = case_of(*ISSUE_CASE)
    wrong = wrong_entries(fd.central_differences(*case, step=fd.STEP_SCALE), case)
    assert any(line.startswith("layer 6: dE/dW[3, 6]") for line in wrong), wrong


def reach_at(case, trace, l: int, k: int, step: float) -> float:
    """How far the largest Richardson step s moves a curved unit, for parameter k of layer l
    (in the order of W^l.ravel() then b^l), in units of its room (within reach: <= 1)."""
    arch, params, _, _ = case
    j, i = parameters._layer_perturbations(trace.h[l - 1], arch.sizes[l])
    v = np.vstack([trace.h[l - 1].T, np.ones((1, trace.h[0].shape[0]))])[i[k]]
    dz = steps._RICHARDSON_STEPS[:, None, None] * (step * v)[None, None, :]
    _, _, reach = perturbed._real_step_outputs(arch, params, trace, l, j[k : k + 1], dz)
    return float(np.max(reach))


def test_a_step_that_reaches_too_far_is_shrunk_until_every_curved_unit_is_within_reach():
    arch, params, x, y = case = case_of(*ISSUE_CASE)
    trace = forward._forward(arch, *inputs._as_arrays(arch, params, x, y))
    estimate = fd.central_differences(*case)
    shrunk = 0
    for l in range(1, arch.L + 1):
        j, i = parameters._layer_perturbations(trace.h[l - 1], arch.sizes[l])
        v = np.vstack([trace.h[l - 1].T, np.ones((1, trace.h[0].shape[0]))])[i]
        first = steps._first_steps(fd.STEP_SCALE, trace.z[l][:, j].T, v)
        final = np.concatenate([estimate.steps[l - 1][0].ravel(), estimate.steps[l - 1][1]])
        assert (final <= first).all()
        for k in np.flatnonzero(final < first):
            assert reach_at(case, trace, l, k, first[k]) > 1  # shrunk because it reached too far
            assert reach_at(case, trace, l, k, final[k]) <= 1  # and now within reach
            shrunk += 1
    assert shrunk > 0


def test_entries_still_out_of_reach_are_untrusted_and_never_compared(monkeypatch):
    """With one evaluation allowed, the perturbations that reach too far have no trustworthy
    step: they are marked, counted, and the judge passes the reference over them."""
    monkeypatch.setattr(parameters, "STEP_ROUNDS", 1)  # read where each parameter is stepped
    case = case_of(*ISSUE_CASE)
    estimate = fd.central_differences(*case)
    assert estimate.untrusted_count > 0
    assert not any(
        (u & s).any()
        for layer in zip(estimate.untrusted, estimate.skipped, strict=True)
        for u, s in zip(*layer, strict=True)
    )
    c = draw_case(*ISSUE_CASE)
    verdict = approximate_verdict(reference.gradients, c)
    assert verdict.passed and verdict.untrusted == estimate.untrusted_count
    # some of them are wrong beyond their error: had they been compared, a false alarm
    wrong = [
        u & (np.abs(g - t) > e)
        for (gW, gb), (tW, tb), (eW, eb), (uW, ub) in zip(
            estimate.grads, truth(case), estimate.error, estimate.untrusted, strict=True
        )
        for g, t, e, u in ((gW, tW, eW, uW), (gb, tb, eb, ub))
    ]
    assert any(w.any() for w in wrong)


def test_an_evaluation_that_overflows_is_untrusted():
    """E = (h - y)^2 / 2 with (h - y)^2 just below the largest double: a step up overflows."""
    arch = reference.Architecture(sizes=(1, 1), activations=("identity",), loss="squared_error")
    big = np.sqrt(np.finfo(np.float64).max) * (1 - 2.0**-40)
    params = [(np.array([[1.0]]), np.array([big]))]
    x, y = np.array([[0.0]]), np.array([[0.0]])
    assert np.isfinite(reference.error(arch, params, x, y))
    estimate = fd.central_differences(arch, params, x, y)
    assert estimate.untrusted[0][1][0] and not np.isfinite(estimate.grads[0][1][0])


def test_rounding_noise_covers_layers_whose_magnitudes_dwarf_the_loss():
    case = case_of(*NOISY_CASE)
    assert not wrong_entries(fd.central_differences(*case), case)


def test_with_the_loss_terms_alone_the_rounding_bound_misses_there(monkeypatch):
    """The planted failure: N bounded by the rounding of E's own terms, as if every layer's
    rounding were no larger than the loss's (what the estimate assumed before)."""
    rounding_noise = noise._rounding_noise

    def loss_terms_only(arch, params, trace, y):
        loss_only = rounding_noise(arch, params, trace, y)[len(arch.sizes) - 1][0][:, :1]
        layers = len(arch.sizes) - 1
        return {
            l: (np.broadcast_to(loss_only * (layers - l + 1), G.shape), G)
            for l, (_, G) in rounding_noise(arch, params, trace, y).items()
        }

    # central_differences looks _rounding_noise up in its own module
    monkeypatch.setattr(gradients, "_rounding_noise", loss_terms_only)
    case = case_of(*NOISY_CASE)
    assert wrong_entries(fd.central_differences(*case), case)


def test_the_point_differentiated_is_off_by_the_forward_rounding_which_2a_covers():
    """z = x W + b cancels 1e11 to about 1: z is off by ~1e-5, and dE/db = z - y inherits it.
    Central differences of a quadratic are exact, so the estimate's own error is far smaller:
    the forward pass's rounding is what the judge's 2A adds (verification.judge.values)."""
    arch = reference.Architecture(sizes=(1, 1), activations=("identity",), loss="squared_error")
    x = np.array([[1e12 + 1]])
    W, b = np.array([[0.1]]), np.array([-1e11 + 0.3])
    y = np.array([[0.25]])
    z_exact = Fraction(float(x[0, 0])) * Fraction(float(W[0, 0])) + Fraction(float(b[0]))
    exact = float(z_exact - Fraction(float(y[0, 0])))  # dE/db = z - y, n = 1
    estimate = fd.central_differences(arch, [(W, b)], x, y)
    off = abs(estimate.grads[0][1][0] - exact)
    assert off > 100 * estimate.error[0][1][0]  # beyond the difference quotient's own error
    assert off <= estimate.error[0][1][0] + 2 * allowance(arch, [(W, b)], x, y)[0][1][0]


@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu"])
def test_affine_units_never_shrink_the_step(activation):
    """No truncation on affine pieces: a large amplification through them is no reason to
    shrink, so the steps are the first ones."""
    rng = np.random.default_rng(3)
    arch = reference.Architecture(
        sizes=(3, 4, 4, 2), activations=(activation, activation, "identity"), loss="squared_error"
    )
    params = [
        (1e3 * rng.standard_normal((m, k)), rng.standard_normal(k))
        for m, k in [(3, 4), (4, 4), (4, 2)]
    ]
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    trace = forward._forward(arch, params, x, y)
    assert all(trace.reach[m] is None for m in range(1, 5))
    estimate = fd.central_differences(arch, params, x, y)
    assert estimate.untrusted_count == 0
    assert not wrong_entries(estimate, (arch, params, x, y))


def test_saturated_streams_are_estimated_within_error_and_allowance():
    """A slice of the streams that failed before: saturated softplus, elu and gelu_tanh."""
    wrong = []
    for activation in ("softplus", "elu", "gelu_tanh"):
        options = CaseOptions(activations=(activation,), regimes=("saturated",))
        for index in range(12):
            case = case_of(0, index, options)
            wrong += [
                f"{activation} case {index}: {line}"
                for line in wrong_entries(fd.central_differences(*case), case)
            ]
    assert not wrong, wrong[:5]


def test_a_directional_derivative_that_reaches_too_far_is_never_trusted():
    """Along W^6[3, 6] of the issue case the step moves z^6 by thousands: its error is inf;
    along every direction, a finite error covers the truth."""
    case = case_of(*ISSUE_CASE)
    params = case[1]
    along_entry = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    along_entry[5][0][3, 6] = 1.0
    rng = np.random.default_rng(0)
    directions = [along_entry] + [
        [(rng.standard_normal(W.shape), rng.standard_normal(b.shape)) for W, b in params]
        for _ in range(3)
    ]
    values, errors = fd.directional_derivatives(*case, directions)
    assert np.isinf(errors[0])
    exact = np.array(
        [
            sum(
                (g * D).sum()
                for pair, d in zip(truth(case), direction, strict=True)
                for g, D in zip(pair, d, strict=True)
            )
            for direction in directions
        ]
    )
    finite = np.isfinite(errors)
    assert (np.abs(values - exact)[finite] <= errors[finite]).all()


def test_without_the_reach_that_directional_derivative_is_confidently_wrong(monkeypatch):
    """The planted failure: reach unbounded (MAX_MOVE = inf), the same direction gets a finite
    error estimate that misses the truth."""
    monkeypatch.setattr(forward, "MAX_MOVE", np.inf)  # read where the reach is computed
    case = case_of(*ISSUE_CASE)
    along_entry = [(np.zeros_like(W), np.zeros_like(b)) for W, b in case[1]]
    along_entry[5][0][3, 6] = 1.0
    values, errors = fd.directional_derivatives(*case, [along_entry])
    assert np.isfinite(errors[0])
    assert abs(values[0] - truth(case)[5][0][3, 6]) > errors[0]
