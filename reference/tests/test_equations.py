"""Each equation of the seed, checked on the trace that backprop() returns.

For random networks of every activation and every loss, the arrays of one Backprop must satisfy

    z^l = h^{l-1} W^l + b^l              h^l = phi_l(z^l)
    delta^L = phi_L'(z^L) * dE/dh^L      delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T
    dE/dW^l = (h^{l-1})^T delta^l        dE/db^l = 1^T delta^l (column sums)
    E = LOSSES[loss].value(h^L, y)

each recomputed here from the trace with plain NumPy. Elementwise equations must hold exactly
(the same operations on the same numbers); those with a matrix product or a sum hold to the
rounding of a dot product, whose summation order may differ. The checker is itself tested on
planted bugs at the end.
"""

import dataclasses

import numpy as np
import pytest

import reference
from reference.tests.networks import ACTIVATION_NAMES, LOSS_NAMES, random_case


def dot_rounding(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A bound on |fl(A B) - A B| for either of two summation orders: 2 k eps |A| |B|.

    The classic bound for a dot product of length k is k eps |a|.|b| (Higham, Accuracy and
    Stability, section 3.1); two evaluations in different orders differ by at most twice that.
    """
    k = A.shape[-1] if A.ndim else 1
    eps = np.finfo(np.result_type(A, B)).eps
    return 2 * (k + 1) * eps * (np.abs(A) @ np.abs(B))


def _differs(got: np.ndarray, expected: np.ndarray, allowed: np.ndarray | float) -> str | None:
    if got.shape != expected.shape:
        return f"shape {got.shape}, but should be {expected.shape}"
    excess = np.abs(got - expected) - allowed
    if not (excess <= 0).all():
        i = np.unravel_index(np.argmax(np.where(np.isnan(excess), np.inf, excess)), got.shape)
        return f"{got[i]!r} at index {list(map(int, i))}, but the equation gives {expected[i]!r}"
    return None


def equation_violations(
    arch: reference.Architecture, params: reference.Params, y: np.ndarray, bp: reference.Backprop
) -> list[str]:
    """One line per equation of the seed that the arrays of `bp` do not satisfy."""
    found = []

    def check(l: int, equation: str, got, expected, allowed=0.0) -> None:
        problem = _differs(np.asarray(got), np.asarray(expected), allowed)
        if problem is not None:
            found.append(f"layer {l}: {equation}: {problem}")

    L, h, z, delta = arch.L, bp.h, bp.z, bp.delta
    for l in range(1, L + 1):
        W, b = params[l - 1]  # layer l is params[l - 1]
        phi, dphi = arch.activation(l).phi, arch.activation(l).dphi
        check(
            l,
            "z^l = h^{l-1} W^l + b^l",
            z[l],
            h[l - 1] @ W + b,
            dot_rounding(h[l - 1], W) + 2 * np.finfo(W.dtype).eps * np.abs(b),
        )
        check(l, "h^l = phi(z^l)", h[l], phi(z[l]))
        if l == L:
            dE_dh = arch.loss_function.grad(h[L], y)
            check(l, "delta^L = phi'(z^L) * dE/dh^L", delta[l], dphi(z[l]) * dE_dh)
        else:
            W_next = params[l][0]
            check(
                l,
                "delta^l = phi'(z^l) * delta^{l+1} (W^{l+1})^T",
                delta[l],
                dphi(z[l]) * (delta[l + 1] @ W_next.T),
                np.abs(dphi(z[l])) * dot_rounding(delta[l + 1], W_next.T),
            )
        check(
            l,
            "dE/dW^l = (h^{l-1})^T delta^l",
            bp.grad_W[l],
            h[l - 1].T @ delta[l],
            dot_rounding(h[l - 1].T, delta[l]),
        )
        check(
            l,
            "dE/db^l = column sums of delta^l",
            bp.grad_b[l],
            delta[l].sum(axis=0),
            dot_rounding(np.ones((1, len(delta[l])), delta[l].dtype), np.abs(delta[l]))[0],
        )
    check(L, "E = LOSSES[loss].value(h^L, y)", bp.E, arch.loss_function.value(h[L], y))
    return found


CASES = [(a, loss) for a in ACTIVATION_NAMES for loss in LOSS_NAMES]


@pytest.mark.parametrize(("activation", "loss"), CASES)
def test_every_equation_of_the_seed_holds_on_the_trace(activation: str, loss: str) -> None:
    rng = np.random.default_rng([ACTIVATION_NAMES.index(activation), LOSS_NAMES.index(loss)])
    for sizes in [(3, 2), (4, 5, 3), (2, 6, 1, 4, 3)]:
        L = len(sizes) - 1
        # the activation under test in every layer but the first, which is drawn at random
        activations = (str(rng.choice(ACTIVATION_NAMES)),) + (activation,) * (L - 1)
        if L == 1:
            activations = (activation,)
        case = random_case(rng, sizes=sizes, activations=activations, loss=loss, n=4)
        bp = reference.backprop(case.arch, case.params, case.x, case.y)
        assert equation_violations(case.arch, case.params, case.y, bp) == [], (
            f"sizes {sizes}, activations {activations}, loss {loss}"
        )


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_gradients_equals_backprop_grads(loss: str) -> None:
    rng = np.random.default_rng(11)
    case = random_case(rng, sizes=(3, 4, 4, 2), loss=loss, n=6)
    bp = reference.backprop(case.arch, case.params, case.x, case.y)
    grads = reference.gradients(case.arch, case.params, case.x, case.y)
    assert len(grads) == case.arch.L
    for l, ((grad_W, grad_b), (W, b)) in enumerate(zip(grads, case.params, strict=True), start=1):
        # the same computation: only a summation order could change, within a dot's rounding
        h_prev = bp.h[l - 1]
        np.testing.assert_allclose(
            grad_W,
            bp.grad_W[l],
            rtol=0,
            atol=dot_rounding(h_prev.T, bp.delta[l]).max(),
            err_msg=f"layer {l}: dE/dW^l",
        )
        np.testing.assert_allclose(
            grad_b,
            bp.grad_b[l],
            rtol=0,
            atol=dot_rounding(np.ones((1, len(h_prev))), np.abs(bp.delta[l])).max(),
            err_msg=f"layer {l}: dE/db^l",
        )
        assert grad_W.shape == W.shape and grad_b.shape == b.shape


def test_error_equals_backprop_E() -> None:
    rng = np.random.default_rng(12)
    case = random_case(rng, sizes=(3, 4, 2), loss="cross_entropy", n=6)
    bp = reference.backprop(case.arch, case.params, case.x, case.y)
    assert reference.error(case.arch, case.params, case.x, case.y) == bp.E


# --- the checker, on planted bugs ------------------------------------------------------------


@pytest.fixture(scope="module")
def tanh_case():
    rng = np.random.default_rng(13)
    case = random_case(rng, sizes=(3, 4, 5, 2), activations=("tanh",) * 3, n=4)
    return case, reference.backprop(case.arch, case.params, case.x, case.y)


def _planted(bp: reference.Backprop, field: str, l: int, change) -> reference.Backprop:
    values = dict(getattr(bp, field))
    values[l] = change(values[l])
    return dataclasses.replace(bp, **{field: values})


PLANTED_BUGS = {
    "bias added twice": ("z", 2, lambda z: z + 0.1, "layer 2: z^l"),
    "h^l not phi(z^l)": ("h", 1, lambda h: h * (1 + 1e-12), "layer 1: h^l"),
    "delta^L without phi'": ("delta", 3, lambda d: d * 1.5, "layer 3: delta^L"),
    "delta^l a tiny bit off": ("delta", 2, lambda d: d * (1 + 1e-9), "layer 2: delta^l"),
    "dE/dW^l transposed product": ("grad_W", 1, lambda g: g[::-1], "layer 1: dE/dW^l"),
    "dE/db^l a mean, not a sum": ("grad_b", 2, lambda g: g / 4, "layer 2: dE/db^l"),
}


@pytest.mark.parametrize("bug", PLANTED_BUGS)
def test_equation_checker_names_the_broken_equation(tanh_case, bug: str) -> None:
    case, bp = tanh_case
    field, l, change, expected_start = PLANTED_BUGS[bug]
    found = equation_violations(case.arch, case.params, case.y, _planted(bp, field, l, change))
    assert any(line.startswith(expected_start) for line in found), found


def test_equation_checker_catches_a_wrong_E(tanh_case) -> None:
    case, bp = tanh_case
    found = equation_violations(case.arch, case.params, case.y, dataclasses.replace(bp, E=bp.E * 2))
    assert [line for line in found if "E = " in line], found
