"""Tiny networks worked out by hand, to the last digit.

The numbers are chosen so that every intermediate value is a short dyadic fraction (a multiple
of a small power of 2), which float64 holds exactly: the reference must then give these values
exactly, and the tests compare with ==. The derivations are written out beside the literals
(fractions were checked with Python's fractions.Fraction, by hand, not with the reference).

The last test is a network of smooth activations whose values are not exact in binary: there
the expected values come from mpmath at 50 digits, differentiating E itself (mpmath.diff) rather
than applying the seed's equations, so it is an independent derivation.
"""

import dataclasses

import mpmath
import numpy as np
import pytest

import reference
from reference.activations import sigmoid

EPS = np.finfo(np.float64).eps


def _exactly(got: np.ndarray, expected: list) -> None:
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64), strict=True)


# --- network A: 2-2-2, relu then identity, squared_error, batch of 2 ------------------------
#
#   x = [[ 1, 2],      W^1 = [[1/2, -1 ],   b^1 = [-1/2, 1/4]
#        [-1, 1]]             [1/4, 1/2]]
#
#   W^2 = [[1, -1/2],  b^2 = [1/4, -1]      y = [[1, -1  ],
#          [2,  1/4]]                            [4, -1/2]]

A = reference.Architecture(sizes=(2, 2, 2), activations=("relu", "identity"), loss="squared_error")
A_X = np.array([[1.0, 2.0], [-1.0, 1.0]])
A_PARAMS = [
    (np.array([[0.5, -1.0], [0.25, 0.5]]), np.array([-0.5, 0.25])),
    (np.array([[1.0, -0.5], [2.0, 0.25]]), np.array([0.25, -1.0])),
]
A_Y = np.array([[1.0, -1.0], [4.0, -0.5]])


@pytest.fixture(scope="module")
def bp_A() -> reference.Backprop:
    return reference.backprop(A, A_PARAMS, A_X, A_Y)


def test_network_A_forward_pass_by_hand(bp_A: reference.Backprop) -> None:
    # z^1 = x W^1 + b^1
    #   row 1: [ 1(1/2) + 2(1/4) - 1/2,  1(-1) + 2(1/2) + 1/4] = [ 1/2, 1/4]
    #   row 2: [-1(1/2) + 1(1/4) - 1/2, -1(-1) + 1(1/2) + 1/4] = [-3/4, 7/4]
    _exactly(bp_A.z[1], [[0.5, 0.25], [-0.75, 1.75]])
    # h^1 = relu(z^1): the -3/4 becomes 0
    _exactly(bp_A.h[1], [[0.5, 0.25], [0.0, 1.75]])
    # z^2 = h^1 W^2 + b^2
    #   row 1: [1/2(1) + 1/4(2) + 1/4, 1/2(-1/2) + 1/4(1/4) - 1] = [5/4, -19/16]
    #   row 2: [0(1) + 7/4(2) + 1/4,   0(-1/2) + 7/4(1/4) - 1]   = [15/4, -9/16]
    _exactly(bp_A.z[2], [[1.25, -1.1875], [3.75, -0.5625]])
    # h^2 = z^2 (identity)
    _exactly(bp_A.h[2], [[1.25, -1.1875], [3.75, -0.5625]])
    assert bp_A.h[0] is A_X or np.array_equal(bp_A.h[0], A_X)


def test_network_A_error_by_hand(bp_A: reference.Backprop) -> None:
    # h^2 - y = [[1/4, -3/16], [-1/4, -1/16]]
    # E = (1/n) sum_i 1/2 sum_k (h - y)^2 = (1/2)(1/2)(1/16 + 9/256 + 1/16 + 1/256)
    #   = (1/4)(42/256) = 21/512
    assert bp_A.E == 21 / 512
    assert reference.error(A, A_PARAMS, A_X, A_Y) == 21 / 512


def test_network_A_deltas_by_hand(bp_A: reference.Backprop) -> None:
    # delta^2 = identity'(z^2) * dE/dh^2 = 1 * (h^2 - y) / 2 = [[1/8, -3/32], [-1/8, -1/32]]
    _exactly(bp_A.delta[2], [[0.125, -0.09375], [-0.125, -0.03125]])
    # delta^2 (W^2)^T, with (W^2)^T = [[1, 2], [-1/2, 1/4]]:
    #   row 1: [1/8 + 3/64,  1/4 - 3/128] = [11/64, 29/128]
    #   row 2: [-1/8 + 1/64, -1/4 - 1/128] = [-7/64, -33/128]
    # delta^1 = relu'(z^1) * that, relu'(z^1) = [[1, 1], [0, 1]]:
    _exactly(bp_A.delta[1], [[11 / 64, 29 / 128], [0.0, -33 / 128]])


def test_network_A_gradients_by_hand(bp_A: reference.Backprop) -> None:
    # dE/dW^2 = (h^1)^T delta^2, (h^1)^T = [[1/2, 0], [1/4, 7/4]]:
    #   row 1: [1/2(1/8), 1/2(-3/32)]                    = [1/16, -3/64]
    #   row 2: [1/4(1/8) + 7/4(-1/8), 1/4(-3/32) + 7/4(-1/32)] = [-3/16, -5/64]
    _exactly(bp_A.grad_W[2], [[1 / 16, -3 / 64], [-3 / 16, -5 / 64]])
    # dE/db^2 = column sums of delta^2 = [1/8 - 1/8, -3/32 - 1/32] = [0, -1/8]
    _exactly(bp_A.grad_b[2], [0.0, -0.125])
    # dE/dW^1 = x^T delta^1, x^T = [[1, -1], [2, 1]]:
    #   row 1: [11/64 - 0, 29/128 + 33/128]     = [11/64, 31/64]
    #   row 2: [2(11/64) + 0, 2(29/128) - 33/128] = [11/32, 25/128]
    _exactly(bp_A.grad_W[1], [[11 / 64, 31 / 64], [11 / 32, 25 / 128]])
    # dE/db^1 = [11/64 + 0, 29/128 - 33/128] = [11/64, -1/32]
    _exactly(bp_A.grad_b[1], [11 / 64, -1 / 32])


def test_network_A_gradients_function_gives_the_same_numbers(bp_A: reference.Backprop) -> None:
    grads = reference.gradients(A, A_PARAMS, A_X, A_Y)
    for l, (grad_W, grad_b) in enumerate(grads, start=1):
        np.testing.assert_array_equal(grad_W, bp_A.grad_W[l], err_msg=f"layer {l}: dE/dW")
        np.testing.assert_array_equal(grad_b, bp_A.grad_b[l], err_msg=f"layer {l}: dE/db")


# --- network B: 2-2-1, relu at its kink, sigmoid at 0, one example ---------------------------
#
#   x = [[1, -1]],  W^1 = [[1, 1/2], [1, 1/2]],  b^1 = [0, 1/2],  W^2 = [[3], [2]],  b^2 = [-1]
#   y = [[1]]


def test_network_B_relu_kink_and_sigmoid_at_zero_by_hand() -> None:
    arch = reference.Architecture(
        sizes=(2, 2, 1), activations=("relu", "sigmoid"), loss="squared_error"
    )
    params = [
        (np.array([[1.0, 0.5], [1.0, 0.5]]), np.array([0.0, 0.5])),
        (np.array([[3.0], [2.0]]), np.array([-1.0])),
    ]
    bp = reference.backprop(arch, params, np.array([[1.0, -1.0]]), np.array([[1.0]]))
    # z^1 = [1 - 1 + 0, 1/2 - 1/2 + 1/2] = [0, 1/2]: the first unit sits on relu's kink
    _exactly(bp.z[1], [[0.0, 0.5]])
    _exactly(bp.h[1], [[0.0, 0.5]])
    # z^2 = 0(3) + 1/2(2) - 1 = 0, h^2 = sigma(0) = 1/2
    _exactly(bp.z[2], [[0.0]])
    _exactly(bp.h[2], [[0.5]])
    # E = (1/1)(1/2)(1/2 - 1)^2 = 1/8
    assert bp.E == 0.125
    # delta^2 = sigma'(0) (h^2 - y) / 1 = (1/4)(-1/2) = -1/8
    _exactly(bp.delta[2], [[-0.125]])
    # delta^1 = relu'(z^1) * delta^2 (W^2)^T = [0, 1] * [-3/8, -1/4] = [0, -1/4]
    # (relu'(0) = 0 is PyTorch's convention, docs/contract.md, section 2)
    _exactly(bp.delta[1], [[0.0, -0.25]])
    # dE/dW^2 = (h^1)^T delta^2 = [[0], [-1/16]],  dE/db^2 = [-1/8]
    _exactly(bp.grad_W[2], [[0.0], [-0.0625]])
    _exactly(bp.grad_b[2], [-0.125])
    # dE/dW^1 = x^T delta^1 = [[0, -1/4], [0, 1/4]],  dE/db^1 = [0, -1/4]
    _exactly(bp.grad_W[1], [[0.0, -0.25], [0.0, 0.25]])
    _exactly(bp.grad_b[1], [0.0, -0.25])


# --- network C: one leaky_relu layer, one unit on the kink -----------------------------------


def test_network_C_leaky_relu_slope_at_its_kink_is_one_hundredth() -> None:
    arch = reference.Architecture(sizes=(2, 2), activations=("leaky_relu",), loss="squared_error")
    params = [(np.array([[1.0, -1.0], [-1.0, -1.0]]), np.array([0.0, 0.0]))]
    x, y = np.array([[1.0, 1.0]]), np.array([[0.5, 0.0]])
    bp = reference.backprop(arch, params, x, y)
    # z = [1 - 1, -1 - 1] = [0, -2];  h = [0, 0.01 (-2)] = [0, -0.02]
    _exactly(bp.z[1], [[0.0, -2.0]])
    # 0.01 is not a binary fraction; fl(0.01) times -2 is exact, and so is the literal -0.02
    # (doubling commutes with rounding)
    _exactly(bp.h[1], [[0.0, -0.02]])
    # dE/dh = h - y = [-1/2, -0.02];  delta = [0.01 (-1/2), 0.01 (-0.02)] since phi'(0) = 0.01
    assert bp.delta[1][0, 0] == -0.005  # halving commutes with rounding: exact
    assert bp.delta[1][0, 1] == pytest.approx(-0.0002, rel=2 * EPS)  # one product, one rounding


# --- network D: smooth activations, against mpmath at 50 digits ------------------------------

MP_DIGITS = 50
# A 2-3-2 network: each entry is a sum of at most 3 products along each of 2 layers, each
# factor within a few ULP (dphi within 4 ULP of itself: docs/reference.md, "Using it", as
# test_accuracy.py checks); 64 eps of the largest entry of the array bounds that rounding with
# room, and is far below any error in a formula.
SMALL_NETWORK_ROUNDING = 64 * EPS

MP_PHI = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "tanh": mpmath.tanh,
    "softplus": lambda z: mpmath.log(1 + mpmath.exp(z)),
    "elu": lambda z: z if z > 0 else mpmath.exp(z) - 1,
    "gelu_tanh": lambda z: (
        z / 2 * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (z + mpmath.mpf("0.044715") * z**3)))
    ),
    "identity": lambda z: z,
}


def _mp_loss(loss: str, h: list, y: np.ndarray) -> mpmath.mpf:
    """E from docs/contract.md, section 3, in mpmath: h is a list of rows of mpf."""
    n = len(h)
    if loss == "squared_error":
        total = sum(
            (a - t) ** 2 / 2
            for row, yr in zip(h, y, strict=True)
            for a, t in zip(row, yr, strict=True)
        )
    elif loss == "cross_entropy":
        total = sum(
            mpmath.log(sum(mpmath.exp(a) for a in row)) - row[int(t)]
            for row, t in zip(h, y, strict=True)
        )
    else:  # binary_cross_entropy
        total = sum(
            mpmath.log(1 + mpmath.exp(a)) - t * a
            for row, yr in zip(h, y, strict=True)
            for a, t in zip(row, yr, strict=True)
        )
    return total / n


def _mp_from_layer(arch, params, h_rows, first_layer, y):
    """E computed from h^{first_layer - 1} onwards, in mpmath (just the loss past layer L)."""
    for l in range(first_layer, arch.L + 1):
        W, b = params[l - 1]
        phi = MP_PHI[arch.activations[l - 1]]
        h_rows = [
            [phi(sum(row[i] * W[i][j] for i in range(len(row))) + b[j]) for j in range(len(b))]
            for row in h_rows
        ]
    return _mp_loss(arch.loss, h_rows, y)


def _mpmath_mismatches(arch: reference.Architecture, params, x, y, bp) -> list[str]:
    """Every quantity of `bp` (E, delta^l, dE/dW^l, dE/db^l) against mpmath's derivatives of E.

    E is evaluated at 50 digits from docs/contract.md, sections 1 to 3; delta^l_ij is
    mpmath.diff of E as a function of z^l_ij (E recomputed from z^l onwards), the gradients are
    mpmath.diff of E as a function of each parameter. Returns one line per mismatch.
    """
    mismatches = []
    with mpmath.workdps(MP_DIGITS):
        mp_params = [
            ([[mpmath.mpf(v) for v in r] for r in W], [mpmath.mpf(v) for v in b]) for W, b in params
        ]
        mp_x = [[mpmath.mpf(v) for v in r] for r in x]
        E = _mp_from_layer(arch, mp_params, mp_x, 1, y)
        if not abs(bp.E - E) <= SMALL_NETWORK_ROUNDING * abs(E):
            mismatches.append(f"E = {bp.E}, but mpmath gives {E}")

        def dE_by(l: int, symbol: str, index: tuple[int, ...]) -> mpmath.mpf:
            W, b = mp_params[l - 1]

            def E_of(t):
                W_t, b_t = [r[:] for r in W], b[:]
                if symbol == "W":
                    W_t[index[0]][index[1]] = t
                else:
                    b_t[index[0]] = t
                perturbed = [*mp_params[: l - 1], (W_t, b_t), *mp_params[l:]]
                return _mp_from_layer(arch, perturbed, mp_x, 1, y)

            return mpmath.diff(E_of, W[index[0]][index[1]] if symbol == "W" else b[index[0]])

        def dE_by_z(l: int, i: int, j: int) -> mpmath.mpf:
            z = [[mpmath.mpf(v) for v in r] for r in bp.z[l]]
            phi = MP_PHI[arch.activations[l - 1]]

            def E_of(t):
                z_t = [r[:] for r in z]
                z_t[i][j] = t
                h = [[phi(v) for v in r] for r in z_t]
                return _mp_from_layer(arch, mp_params, h, l + 1, y)

            return mpmath.diff(E_of, z[i][j])

        for l in range(1, arch.L + 1):
            checks = [
                ("delta", bp.delta[l], lambda idx, l=l: dE_by_z(l, *idx)),
                ("dE/dW", bp.grad_W[l], lambda idx, l=l: dE_by(l, "W", idx)),
                ("dE/db", bp.grad_b[l], lambda idx, l=l: dE_by(l, "b", idx)),
            ]
            for name, got, exact_at in checks:
                exact = np.array([float(exact_at(idx)) for idx in np.ndindex(got.shape)])
                exact = exact.reshape(got.shape)
                allowed = SMALL_NETWORK_ROUNDING * np.abs(exact).max()
                worst = np.abs(got - exact).max()
                if not worst <= allowed:
                    mismatches.append(
                        f"layer {l}: {name} differs from mpmath's derivative of E by "
                        f"{worst:.3e} (allowed {allowed:.3e}):\n got {got}\n exact {exact}"
                    )
    return mismatches


SMOOTH_CASES = [
    (("sigmoid", "identity"), "binary_cross_entropy"),
    (("tanh", "identity"), "cross_entropy"),
    (("gelu_tanh", "softplus"), "squared_error"),
    (("elu", "sigmoid"), "squared_error"),
]


def _smooth_case(activations, loss):
    arch = reference.Architecture(sizes=(2, 3, 2), activations=activations, loss=loss)
    rng = np.random.default_rng(7)
    params = [(W, rng.standard_normal(b.shape) / 2) for W, b in reference.init_params(arch, rng)]
    x = rng.standard_normal((2, 2))
    y = np.array([1, 0]) if loss == "cross_entropy" else np.array([[0.25, 1.0], [0.0, 0.75]])
    return arch, params, x, y


@pytest.mark.parametrize(("activations", "loss"), SMOOTH_CASES)
def test_smooth_network_matches_mpmath_derivatives_of_E(activations, loss) -> None:
    arch, params, x, y = _smooth_case(activations, loss)
    bp = reference.backprop(arch, params, x, y)
    assert _mpmath_mismatches(arch, params, x, y, bp) == []


def test_mpmath_comparison_catches_a_wrong_derivative(monkeypatch) -> None:
    # planted bug: sigma'(z) written as sigma(z) sigma(z) instead of sigma(z) sigma(-z)
    wrong = dataclasses.replace(
        reference.ACTIVATIONS["sigmoid"], dphi=lambda z: sigmoid(z) * sigmoid(z)
    )
    monkeypatch.setitem(reference.ACTIVATIONS, "sigmoid", wrong)
    arch, params, x, y = _smooth_case(("sigmoid", "identity"), "binary_cross_entropy")
    mismatches = _mpmath_mismatches(arch, params, x, y, reference.backprop(arch, params, x, y))
    assert any(m.startswith("layer 1: delta") for m in mismatches), mismatches
    assert not any(m.startswith("layer 2") for m in mismatches), mismatches


def test_mpmath_comparison_catches_a_relative_error_of_1e_minus_12() -> None:
    arch, params, x, y = _smooth_case(("tanh", "identity"), "cross_entropy")
    bp = reference.backprop(arch, params, x, y)
    planted = dataclasses.replace(bp, grad_b={**bp.grad_b, 1: bp.grad_b[1] * (1 + 1e-12)})
    mismatches = _mpmath_mismatches(arch, params, x, y, planted)
    assert mismatches, "a relative error of 1e-12 in dE/db^1 went unnoticed"
    assert all(m.startswith("layer 1: dE/db") for m in mismatches), mismatches
