"""The torch mirror agrees with the reference on E, every gradient and every delta^l, follows the
kink conventions and the exact softplus, leaves its arguments alone, and is shown able to
disagree: a wrong loss scale or a wrong convention in either one is caught."""

import numpy as np
import pytest
import torch.nn.functional as F  # noqa: N812 (torch's own name for it)

import reference
from verification.oracles import torch_mirror
from verification.oracles.torch_mirror import torch_backprop
from verification.tests.working_range import seed_of, working_range_case

MIRROR_RTOL = 1e-12
"""Agreement of mirror and reference, relative to the largest entry of each array, on networks
whose |z| stays below MAX_Z. Both are float64; torch's derivatives are the textbook ones,
1 - tanh^2 z and sigma(1 - sigma), whose relative error grows like eps e^{2|z|} / 4: at most
e^8 / 4 ~ 750 ULP at |z| = 4. 1e-12 (~4500 eps) leaves room for that and for the sums of a few
layers; a wrong scale, sign, transpose or convention is off by far more."""

MAX_Z = 4.0  # "not saturated": the premise of MIRROR_RTOL, asserted on every case

ACTIVATIONS = tuple(reference.ACTIVATIONS)
LOSSES = tuple(reference.LOSSES)


def random_case(seed: int, activations: tuple[str, ...], loss: str, *, n: int = 5):
    return working_range_case(seed, activations, loss, n=n, n_0=4, max_width=5, bias_scale=0.3)


def unsaturated_case(seed: int, activations: tuple[str, ...], loss: str):
    """The first random_case from `seed` on whose |z| stays below MAX_Z (MIRROR_RTOL's premise)."""
    for attempt in range(100):
        case = random_case(seed + attempt, activations, loss)
        if max(np.abs(z).max() for z in reference.forward(*case[:3]).z.values()) < MAX_Z:
            return case
    raise AssertionError(f"no case with |z| < {MAX_Z} for {activations}, {loss}")


def every_activation_and_loss() -> list:
    cases = []
    for i, name in enumerate(ACTIVATIONS):
        other = ACTIVATIONS[(i + 5) % len(ACTIVATIONS)]
        for loss in LOSSES:
            cases.append(pytest.param((name, other, name), loss, id=f"{name}-{other}-{loss}"))
    return cases


def disagreement(got: np.ndarray, expected: np.ndarray) -> float:
    """max |got - expected| relative to max |expected| (0 if both are 0)."""
    scale = np.abs(expected).max()
    difference = np.abs(got - expected).max()
    return 0.0 if difference == 0 else difference / scale


def worst_disagreement(mirror: torch_mirror.TorchBackprop, bp: reference.Backprop):
    """(relative disagreement, what) over E, every dE/dW^l, dE/db^l and delta^l."""
    found = [(disagreement(np.array(mirror.E), np.array(bp.E)), "E")]
    for l in bp.delta:
        grad_W, grad_b = mirror.grads[l - 1]
        found += [
            (disagreement(grad_W, bp.grad_W[l]), f"layer {l}: dE/dW"),
            (disagreement(grad_b, bp.grad_b[l]), f"layer {l}: dE/db"),
            (disagreement(mirror.delta[l], bp.delta[l]), f"layer {l}: delta"),
        ]
    return max(found)


@pytest.mark.parametrize(("activations", "loss"), every_activation_and_loss())
def test_mirror_agrees_with_reference_on_E_gradients_and_deltas(activations, loss):
    case = unsaturated_case(seed_of(*activations, loss), activations, loss)
    bp = reference.backprop(*case)
    mirror = torch_backprop(*case)
    assert [(g.shape, b.shape) for g, b in mirror.grads] == [(W.shape, b.shape) for W, b in case[1]]
    assert all(g.dtype == np.float64 for pair in mirror.grads for g in pair)
    worst, what = worst_disagreement(mirror, bp)
    assert worst <= MIRROR_RTOL, f"{what}: relative disagreement {worst:.3g} > {MIRROR_RTOL}"


def test_mirror_with_a_wrong_loss_scale_disagrees(monkeypatch):
    """A sum over the batch instead of the mean: caught on E, every gradient and delta."""
    case = random_case(1, ("tanh", "identity"), "squared_error")
    bp = reference.backprop(*case)
    assert worst_disagreement(torch_backprop(*case), bp)[0] <= MIRROR_RTOL
    monkeypatch.setitem(
        torch_mirror.LOSS, "squared_error", lambda h, y: F.mse_loss(h, y, reduction="sum") / 2
    )
    mirror = torch_backprop(*case)
    assert disagreement(mirror.grads[0][0], bp.grad_W[1]) > MIRROR_RTOL
    assert disagreement(mirror.delta[2], bp.delta[2]) > MIRROR_RTOL


def test_mirror_catches_a_reference_style_bug_in_one_delta():
    """A gradient whose delta^1 misses phi' (a classic bug) disagrees with the mirror."""
    case = random_case(2, ("sigmoid", "tanh", "identity"), "cross_entropy")
    _, params, x, _ = case
    bp = reference.backprop(*case)
    W2 = params[1][0]
    delta_1 = bp.delta[2] @ W2.T  # phi_1'(z^1) left out
    mirror = torch_backprop(*case)
    assert disagreement(delta_1, mirror.delta[1]) > MIRROR_RTOL
    assert disagreement(x.T @ delta_1, mirror.grads[0][0]) > MIRROR_RTOL


@pytest.mark.parametrize(
    ("activation", "slope"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)]
)
def test_mirror_follows_the_kink_convention_at_zero(activation, slope):
    """Integer inputs and weights put z^1 exactly at 0, where phi'(0) is the convention."""
    arch = reference.Architecture(
        sizes=(2, 1, 1), activations=(activation, "identity"), loss="squared_error"
    )
    params = [(np.array([[1.0], [-1.0]]), np.zeros(1)), (np.array([[2.0]]), np.zeros(1))]
    x, y = np.array([[3.0, 3.0]]), np.array([[1.0]])
    mirror, bp = torch_backprop(arch, params, x, y), reference.backprop(arch, params, x, y)
    assert bp.z[1][0, 0] == 0
    # delta^1 = phi'(0) delta^2 W^2
    assert mirror.delta[1][0, 0] == slope * mirror.delta[2][0, 0] * 2.0
    assert mirror.delta[1][0, 0] == bp.delta[1][0, 0]


@pytest.mark.parametrize("z", [22.0, 25.0])
def test_mirror_softplus_is_exact_above_twenty(z, monkeypatch):
    """delta^1 = sigma(z) (softplus(z) - y) = -1 + 2 e^-z for y = z + 1. torch's default
    F.softplus is the identity past z = 20, which makes it exactly -1: off by 2 e^-z."""
    arch = reference.Architecture(sizes=(1, 1), activations=("softplus",), loss="squared_error")
    params = [(np.ones((1, 1)), np.array([z - 1.0]))]
    x, y = np.ones((1, 1)), np.array([[z + 1.0]])
    bp = reference.backprop(arch, params, x, y)
    assert disagreement(torch_backprop(arch, params, x, y).delta[1], bp.delta[1]) <= MIRROR_RTOL
    monkeypatch.setitem(torch_mirror.PHI, "softplus", F.softplus)  # the check could fail
    assert disagreement(torch_backprop(arch, params, x, y).delta[1], bp.delta[1]) > MIRROR_RTOL


def test_mirror_does_not_modify_its_arguments():
    arch, params, x, y = random_case(3, ("gelu_tanh", "softplus"), "binary_cross_entropy")
    arrays = [*(a for pair in params for a in pair), x, y]
    before = [a.copy() for a in arrays]
    torch_backprop(arch, params, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, before, strict=True))


def test_mirror_imports_nothing_of_the_reference():
    with open(torch_mirror.__file__) as file:
        source = file.read()
    assert "import reference" not in source and "from reference" not in source
