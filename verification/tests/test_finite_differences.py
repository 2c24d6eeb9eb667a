"""The finite-difference oracles agree with the reference within their own error estimates, those
estimates are honest and tight enough to matter, and every check is shown to fail on a planted bug.
"""

import numpy as np
import pytest

import reference
from verification.oracles import finite_differences as fd
from verification.oracles.finite_differences import perturbed
from verification.tests.working_range import seed_of, working_range_case

ACTIVATIONS = tuple(reference.ACTIVATIONS)
LOSSES = tuple(reference.LOSSES)
KINKED = tuple(name for name, a in reference.ACTIVATIONS.items() if a.kink is not None)

PLANTED_RELATIVE_ERROR = 1e-7  # the planted bug: one entry off by 1e-7 of itself
ESTIMATORS = {
    "central, parameters": lambda *case: fd.central_differences(*case),
    "central, units": lambda *case: fd.central_differences(*case, perturb="units"),
    "complex step, parameters": lambda *case: fd.complex_step(*case),
    "complex step, units": lambda *case: fd.complex_step(*case, perturb="units"),
}


def random_case(seed: int, activations: tuple[str, ...], loss: str, *, n: int = 4):
    return working_range_case(seed, activations, loss, n=n, n_0=3, max_width=4, bias_scale=0.5)


def every_activation_and_loss() -> list:
    """Each activation in every position (first, hidden, output), with each loss."""
    cases = []
    for i, name in enumerate(ACTIVATIONS):
        other = ACTIVATIONS[(i + 3) % len(ACTIVATIONS)]
        for loss in LOSSES:
            cases.append(
                pytest.param((name, other, name), loss, id=f"{name}-{other}-{name}-{loss}")
            )
    return cases


def flat(pairs) -> np.ndarray:
    return np.concatenate([a.ravel() for pair in pairs for a in pair])


def misses(estimate: fd.Estimate, grads) -> np.ndarray:
    """Entries (flattened) where |estimate - grads| exceeds the estimate's own error."""
    off = np.abs(flat(estimate.grads) - flat(grads)) > flat(estimate.error)
    return off & ~flat(estimate.skipped)


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize(("activations", "loss"), every_activation_and_loss())
def test_estimate_agrees_with_reference_within_its_error(method, activations, loss):
    case = random_case(seed_of(*activations, loss), activations, loss)
    estimate = ESTIMATORS[method](*case)
    grads = reference.gradients(*case)
    bad = np.flatnonzero(misses(estimate, grads))
    assert bad.size == 0, (
        f"{method}: {bad.size} entries beyond the error estimate, e.g. flat index {bad[0]}: "
        f"estimate {flat(estimate.grads)[bad[0]]!r}, reference {flat(grads)[bad[0]]!r}, "
        f"error estimate {flat(estimate.error)[bad[0]]!r}"
    )
    assert estimate.skipped_count == 0  # no unit sits within a step of its kink here


@pytest.mark.parametrize("method", ESTIMATORS)
def test_error_estimate_is_honest_and_tight(method):
    """Over many random networks the actual error never exceeds the estimate, and the
    estimate is not vacuous: it stays far below the size of the gradient."""
    beyond, tightness = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        activations = tuple(rng.choice(ACTIVATIONS, int(rng.integers(1, 4))))
        case = random_case(seed, activations, LOSSES[seed % len(LOSSES)])
        estimate, grads = ESTIMATORS[method](*case), flat(reference.gradients(*case))
        error, actual = flat(estimate.error), np.abs(flat(estimate.grads) - grads)
        beyond += [(seed, float(a), float(e)) for a, e in zip(actual, error, strict=True) if a > e]
        if np.abs(grads).max() > 0:
            tightness.append(error.max() / np.abs(grads).max())
    assert not beyond, f"{method}: (seed, actual error, estimate) beyond: {beyond[:5]}"
    # tight enough to resolve the planted 1e-7 with a margin of 10 (central differences),
    # and near machine precision, a few hundred eps at most (the complex step)
    limit = 1e-8 if method.startswith("central") else 1e-13
    assert np.median(tightness) < limit, f"{method}: error estimates {np.median(tightness)}"


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("seed", range(3))
def test_gradient_with_one_entry_off_by_1e_7_relative_is_caught(method, seed):
    case = random_case(seed, ("tanh", "sigmoid"), "squared_error")
    grads = [(gW.copy(), gb.copy()) for gW, gb in reference.gradients(*case)]
    estimate = ESTIMATORS[method](*case)
    assert not misses(estimate, grads).any()
    # plant the bug in the largest entry, whose 1e-7 is the largest absolute change
    l, k, index = max(
        (
            (l, k, np.unravel_index(np.abs(g).argmax(), g.shape))
            for l, pair in enumerate(grads)
            for k, g in enumerate(pair)
        ),
        key=lambda t: abs(grads[t[0]][t[1]][t[2]]),
    )
    grads[l][k][index] *= 1 + PLANTED_RELATIVE_ERROR
    assert misses(estimate, grads).sum() == 1


def kink_case(activation: str):
    """Layer 1 with small-integer inputs and weights, so that z^1[0, 0] is exactly 0."""
    arch = reference.Architecture(
        sizes=(2, 2, 2), activations=(activation, "tanh"), loss="squared_error"
    )
    W1 = np.array([[1.0, 2.0], [-1.0, 1.0]])
    b1 = np.array([0.0, 0.5])
    W2 = np.array([[0.7, -0.4], [0.3, 0.9]])
    b2 = np.array([0.1, -0.2])
    x = np.array([[1.0, 1.0], [2.0, -1.0], [-1.0, 0.5]])  # row 0: z^1_00 = 1 - 1 + 0 = 0
    y = np.array([[0.5, 0.1], [0.2, 0.3], [0.9, 0.4]])
    return arch, [(W1, b1), (W2, b2)], x, y


@pytest.mark.parametrize("perturb", fd.PERTURB)
@pytest.mark.parametrize("activation", KINKED)
def test_kink_crossing_is_reported_as_skipped_not_as_disagreement(activation, perturb):
    case = kink_case(activation)
    assert reference.backprop(*case).z[1][0, 0] == 0
    estimate = fd.central_differences(*case, perturb=perturb)
    skipped = flat(estimate.skipped)
    # the unit at the kink feeds column 0 of W^1 (through x[0] = (1, 1)) and b^1_0
    (W_skip, b_skip), _ = estimate.skipped
    assert W_skip[:, 0].all() and b_skip[0]
    assert estimate.skipped_count == skipped.sum() > 0
    assert not misses(estimate, reference.gradients(*case)).any()


@pytest.mark.parametrize("perturb", fd.PERTURB)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_estimate_across_a_jump_of_dphi_would_disagree_if_compared(activation, perturb):
    """Why skipping matters: across the kink a central difference averages both sides.
    (elu's phi' is continuous, so there it only loses its order: skipped all the same.)"""
    case = kink_case(activation)
    estimate = fd.central_differences(*case, perturb=perturb)
    off = np.abs(flat(estimate.grads) - flat(reference.gradients(*case))) > flat(estimate.error)
    assert (off & flat(estimate.skipped)).any()


@pytest.mark.parametrize("perturb", fd.PERTURB)
@pytest.mark.parametrize("activation", KINKED)
def test_complex_step_at_a_kink_follows_the_convention_and_skips_nothing(activation, perturb):
    case = kink_case(activation)
    estimate = fd.complex_step(*case, perturb=perturb)
    assert estimate.skipped_count == 0
    assert not misses(estimate, reference.gradients(*case)).any()


@pytest.mark.parametrize("perturb", fd.PERTURB)
def test_complex_step_catches_a_wrong_kink_convention(perturb):
    """relu'(0) = 1 instead of 0 changes the entries fed by the unit at the kink."""
    case = kink_case("relu")
    _, params, x, _ = case
    bp = reference.backprop(*case)
    delta_1 = bp.delta[1].copy()
    W2 = params[1][0]
    delta_1[0, 0] = (bp.delta[2][0] @ W2.T)[0]  # relu'(0) taken as 1
    wrong = [(x.T @ delta_1, delta_1.sum(0)), (bp.grad_W[2], bp.grad_b[2])]
    assert misses(fd.complex_step(*case, perturb=perturb), wrong).any()


def test_units_and_parameters_give_the_same_complex_step_up_to_rounding():
    case = random_case(7, ("gelu_tanh", "elu", "identity"), "cross_entropy")
    by_units = fd.complex_step(*case, perturb="units")
    by_parameters = fd.complex_step(*case)
    difference = np.abs(flat(by_units.grads) - flat(by_parameters.grads))
    assert (difference <= flat(by_units.error) + flat(by_parameters.error)).all()


def test_chunks_give_the_same_estimates(monkeypatch):
    case = random_case(3, ("tanh", "relu", "softplus"), "binary_cross_entropy")
    whole = [fd.central_differences(*case), fd.complex_step(*case, perturb="units")]
    monkeypatch.setattr(perturbed, "CHUNK_BYTES", 1)  # read by _chunk_size
    assert perturbed._chunk_size(case[0], 1, case[2].shape[0], 4) == 1  # one per chunk
    chunked = [fd.central_differences(*case), fd.complex_step(*case, perturb="units")]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(flat(a.grads), flat(b.grads))


def test_estimators_do_not_modify_their_arguments():
    arch, params, x, y = random_case(11, ("sigmoid", "tanh"), "squared_error")
    arrays = [*(a for pair in params for a in pair), x, y]
    before = [a.copy() for a in arrays]
    directions = [[(np.ones_like(W), np.ones_like(b)) for W, b in params]]
    for perturb in fd.PERTURB:
        fd.central_differences(arch, params, x, y, perturb=perturb)
        fd.complex_step(arch, params, x, y, perturb=perturb)
    fd.directional_derivatives(arch, params, x, y, directions)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, before, strict=True))


def test_unknown_perturb_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="parameters, units"):
        fd.central_differences(*random_case(0, ("tanh", "identity"), "squared_error"), perturb="W")


def random_directions(params, count: int, rng: np.random.Generator):
    return [
        [(rng.standard_normal(W.shape), rng.standard_normal(b.shape)) for W, b in params]
        for _ in range(count)
    ]


def along(grads, directions) -> np.ndarray:
    """dE/dtheta . d for each direction d, from a gradient."""
    return np.array([flat(grads) @ flat(d) for d in directions])


@pytest.mark.parametrize(("activations", "loss"), every_activation_and_loss())
def test_directional_derivatives_agree_with_reference_within_their_error(activations, loss):
    case = random_case(seed_of(loss, *activations), activations, loss)
    directions = random_directions(case[1], 4, np.random.default_rng(0))
    values, errors = fd.directional_derivatives(*case, directions)
    exact = along(reference.gradients(*case), directions)
    assert (np.abs(values - exact) <= errors).all(), (values - exact, errors)


def test_directional_derivatives_catch_a_planted_bug_and_flag_kinks():
    case = random_case(5, ("tanh", "sigmoid"), "squared_error")
    rng = np.random.default_rng(1)
    directions = random_directions(case[1], 3, rng)
    values, errors = fd.directional_derivatives(*case, directions)
    grads = reference.gradients(*case)
    grads[0] = (grads[0][0] * (1 + PLANTED_RELATIVE_ERROR), grads[0][1])  # layer 1's W off
    assert (np.abs(values - along(grads, directions)) > errors).any()
    # across a kink the value measures no derivative: its error is inf, never compared
    kinked = kink_case("relu")
    _, errors = fd.directional_derivatives(*kinked, random_directions(kinked[1], 2, rng))
    assert np.isinf(errors).all()


def test_complex_step_takes_real_parts_from_the_real_forward_pass():
    """dE/dh^L = h^L - 0 = softplus(-30) ~ 9.4e-14. A complex forward pass built on NumPy's
    complex log1p has a real part off by 1e-3 there (it computes log|1 + w|), so a complex step
    that let real parts through would be off by 1e-3; ours keeps Re h^L from the real forward
    pass (and the reference's complex softplus keeps its real part accurate too)."""
    arch = reference.Architecture(sizes=(1, 1), activations=("softplus",), loss="squared_error")
    params = [(np.array([[1.0]]), np.array([-30.0]))]
    x, y = np.array([[1.0]]), np.array([[0.0]])
    grads = reference.gradients(arch, params, x, y)
    for perturb in fd.PERTURB:
        assert not misses(fd.complex_step(arch, params, x, y, perturb=perturb), grads).any()
    # the check could fail: NumPy's complex log1p would put Re h^L off by 1e-3 ...
    h = fd.COMPLEX_STEP
    numpy_real = np.log1p(np.exp(-30.0 + 1j * h)).real
    assert abs(numpy_real - np.log1p(np.exp(-30.0))) > 1e-6 * np.log1p(np.exp(-30.0))
    # ... while the reference's complex forward pass agrees even without that care
    plain = reference.error(arch, [(params[0][0], params[0][1] + 1j * h)], x, y).imag / h
    assert abs(plain - grads[0][1][0]) <= 1e-13 * abs(grads[0][1][0])
