"""dtypes: float32 parameters compute in float32; complex128 flows through forward() and error().

float32: every array of the trace, E and the gradients are float32, whatever the activation and
loss, and they agree with the float64 computation on the same (float32-representable) numbers to
float32 accuracy.

complex128: forward() and error() accept complex parameters and inputs, so that the complex-step
derivative Im E(theta + i s e_k) / s, which has no subtractive cancellation, reproduces
backprop's gradient to nearly float64 precision for the smooth activations.
"""

import dataclasses

import numpy as np
import pytest

import reference
from reference.tests.networks import ACTIVATION_NAMES, LOSS_NAMES, random_case
from reference.validation import check_inputs

EPS32 = np.finfo(np.float32).eps
# float32 against float64 on the same numbers: a few layers of dot products of length <= 5,
# each step adding a few eps32 relative to the array's largest entry (measured: at most about
# 4 eps32). 64 eps32 leaves room for other seeds and is ~100x below a float16 intermediate.
FLOAT32_AGREEMENT = 64 * EPS32
# The complex step's truncation error is O(s^2) = 1e-60 and it has no cancellation, so both
# it and backprop are within a few tens of eps of the exact derivative, measured against the
# largest entry of the gradient array (measured: ~1e-15). 1e-14 is about 45 eps.
COMPLEX_STEP_RTOL = 1e-14
COMPLEX_STEP = 1e-30
# the real part of a complex forward pass against the real one: dot products of length <= 4
# summed in another order, through a few activations (a 2-layer network)
COMPLEX_KERNEL_ROUNDING = 32 * np.finfo(np.float64).eps
SMOOTH = ("identity", "sigmoid", "tanh", "softplus", "elu", "gelu_tanh")


def _all_arrays(bp: reference.Backprop) -> dict[str, np.ndarray]:
    arrays = {f"h^{l}": a for l, a in bp.h.items()}
    for name, trace in (
        ("z", bp.z),
        ("delta", bp.delta),
        ("dE/dW", bp.grad_W),
        ("dE/db", bp.grad_b),
    ):
        arrays.update({f"{name}^{l}": a for l, a in trace.items()})
    return arrays


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_float32_params_compute_everything_in_float32(activation, loss) -> None:
    rng = np.random.default_rng(5)
    case = random_case(
        rng, sizes=(3, 4, 2), activations=(activation, activation), loss=loss, dtype=np.float32
    )
    # x in float64: brought to the parameters' dtype
    x = case.x.astype(np.float64)
    bp = reference.backprop(case.arch, case.params, x, case.y)
    wrong = {k: a.dtype for k, a in _all_arrays(bp).items() if a.dtype != np.float32}
    assert not wrong, f"{activation}, {loss}: not float32: {wrong}"
    assert np.asarray(bp.E).dtype == np.float32
    assert np.asarray(reference.error(case.arch, case.params, x, case.y)).dtype == np.float32
    grads = reference.gradients(case.arch, case.params, x, case.y)
    assert all(g.dtype == np.float32 for layer in grads for g in layer)
    trace = reference.forward(case.arch, case.params, x)
    assert all(a.dtype == np.float32 for a in [*trace.h.values(), *trace.z.values()])
    new = reference.gradient_descent_step(case.params, grads, 0.1)
    assert all(a.dtype == np.float32 for layer in new for a in layer)


def test_init_params_gives_weights_and_zero_biases_in_the_asked_dtype() -> None:
    arch = reference.Architecture(
        sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error"
    )
    params = reference.init_params(arch, np.random.default_rng(0), dtype=np.float32)
    for W, b in params:
        assert W.dtype == np.float32 and b.dtype == np.float32
        assert W.any() and not b.any()


def test_integer_regression_targets_are_computed_in_the_parameters_dtype() -> None:
    arch = reference.Architecture(
        sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error"
    )
    params = reference.init_params(arch, np.random.default_rng(0), dtype=np.float32)
    x, y = np.ones((4, 2), np.float32), np.arange(4).reshape(4, 1)
    _, _, checked_y = check_inputs(arch.sizes, arch.loss, params, x, y)
    assert checked_y.dtype == np.float32, (
        f"check_inputs gives y of dtype {checked_y.dtype}, but should be float32 (the parameters')"
    )
    bp = reference.backprop(arch, params, x, y)
    assert np.asarray(bp.E).dtype == np.float32
    assert all(g.dtype == np.float32 for grad in bp.grads for g in grad)
    assert bp.delta[2].dtype == np.float32


def float32_disagreements(case) -> list[str]:
    """Each array of the float32 backprop that strays from float64's by more than
    FLOAT32_AGREEMENT times the largest entry of that array."""
    bp32 = reference.backprop(case.arch, case.params, case.x, case.y)
    params64 = [(W.astype(np.float64), b.astype(np.float64)) for W, b in case.params]
    y64 = case.y if case.y.dtype.kind == "i" else case.y.astype(np.float64)
    bp64 = reference.backprop(case.arch, params64, case.x.astype(np.float64), y64)
    found = []
    if not abs(bp32.E - bp64.E) <= FLOAT32_AGREEMENT * abs(bp64.E):
        found.append(f"E: float32 {bp32.E}, float64 {bp64.E}")
    arrays64 = _all_arrays(bp64)
    for name, a32 in _all_arrays(bp32).items():
        a64 = arrays64[name]
        worst = np.abs(a32 - a64).max()
        if not worst <= FLOAT32_AGREEMENT * np.abs(a64).max():
            found.append(f"{name}: differs by {worst:.3e} (largest entry {np.abs(a64).max():.3e})")
    return found


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", SMOOTH)
def test_float32_agrees_with_float64_to_float32_accuracy(activation, loss) -> None:
    # smooth activations only: at a kink, float32 rounding may choose the other branch
    rng = np.random.default_rng(6)
    case = random_case(
        rng,
        sizes=(3, 5, 4, 2),
        activations=(activation, activation, "identity"),
        loss=loss,
        dtype=np.float32,
    )
    assert float32_disagreements(case) == []


def test_float32_agreement_catches_a_float16_intermediate(monkeypatch) -> None:
    tanh = reference.ACTIVATIONS["tanh"]

    # planted bug: the float32 path alone goes through float16
    def dphi(z):
        if z.dtype == np.float32:
            return tanh.dphi(z).astype(np.float16).astype(np.float32)
        return tanh.dphi(z)

    rounded = dataclasses.replace(tanh, dphi=dphi)
    monkeypatch.setitem(reference.ACTIVATIONS, "tanh", rounded)
    rng = np.random.default_rng(6)
    case = random_case(
        rng, sizes=(3, 5, 4, 2), activations=("tanh", "tanh", "identity"), dtype=np.float32
    )
    assert any(line.startswith("delta^") for line in float32_disagreements(case))


# --- complex128 -----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_forward_and_error_accept_complex_params_and_x(activation) -> None:
    rng = np.random.default_rng(8)
    case = random_case(rng, sizes=(3, 4, 2), activations=(activation, "identity"))
    params = [(W + 0j, b + 0j) for W, b in case.params]
    trace = reference.forward(case.arch, params, case.x + 0j)
    assert all(a.dtype == np.complex128 for a in [*trace.h.values(), *trace.z.values()])
    real_trace = reference.forward(case.arch, case.params, case.x)
    for l in range(1, case.arch.L + 1):
        # a zero imaginary part leaves the real part as it was, up to the rounding of complex
        # matrix products (another BLAS kernel, another summation order)
        real = real_trace.h[l]
        np.testing.assert_allclose(
            trace.h[l].real,
            real,
            rtol=0,
            atol=COMPLEX_KERNEL_ROUNDING * np.abs(real).max(),
            err_msg=f"h^{l}",
        )
        np.testing.assert_array_equal(trace.h[l].imag, 0, err_msg=f"h^{l}")
    E = reference.error(case.arch, params, case.x + 0j, case.y)
    E_real = reference.error(case.arch, case.params, case.x, case.y)
    assert np.iscomplexobj(E) and E.imag == 0
    assert abs(E.real - E_real) <= COMPLEX_KERNEL_ROUNDING * abs(E_real)


def test_complex_input_with_real_parameters_is_propagated_as_complex() -> None:
    """A complex step in x alone: h^L carries the imaginary part (no silent cast to real)."""
    case = random_case(np.random.default_rng(9), sizes=(2, 3, 1), activations=("tanh", "identity"))
    h_L = reference.forward(case.arch, case.params, case.x + 1e-20j).h[2]
    assert h_L.dtype == np.complex128 and np.all(h_L.imag != 0)


def complex_step_mismatches(case, bp: reference.Backprop, rng: np.random.Generator) -> list[str]:
    """Compare a few entries of each dE/dW^l and dE/db^l with Im E(theta + i s e_k) / s."""
    found = []
    for l in range(1, case.arch.L + 1):
        for symbol, G in (("W", bp.grad_W[l]), ("b", bp.grad_b[l])):
            for _ in range(2):
                k = tuple(int(rng.integers(0, m)) for m in G.shape)
                params = list(case.params)
                W, b = params[l - 1]  # layer l is params[l - 1]
                stepped = (W if symbol == "W" else b).astype(np.complex128)
                stepped[k] += 1j * COMPLEX_STEP
                params[l - 1] = (stepped, b) if symbol == "W" else (W, stepped)
                numeric = reference.error(case.arch, params, case.x, case.y).imag / COMPLEX_STEP
                allowed = COMPLEX_STEP_RTOL * np.abs(G).max()
                if not abs(numeric - G[k]) <= allowed:
                    found.append(
                        f"layer {l}: dE/d{symbol}{list(k)} = {G[k]!r}, but the complex step "
                        f"gives {numeric!r} (allowed difference {allowed:.2e})"
                    )
    return found


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", SMOOTH)
def test_complex_step_derivative_matches_backprop(activation, loss) -> None:
    rng = np.random.default_rng(9)
    case = random_case(
        rng, sizes=(3, 4, 3, 2), activations=(activation, activation, "identity"), loss=loss
    )
    bp = reference.backprop(case.arch, case.params, case.x, case.y)
    assert complex_step_mismatches(case, bp, rng) == []


def test_complex_step_comparison_catches_a_relative_error_of_1e_minus_12(monkeypatch) -> None:
    tanh = reference.ACTIVATIONS["tanh"]
    slightly_off = dataclasses.replace(tanh, dphi=lambda z: tanh.dphi(z) * (1 + 1e-12))
    rng = np.random.default_rng(9)
    case = random_case(rng, sizes=(3, 4, 3, 2), activations=("tanh", "tanh", "identity"))
    monkeypatch.setitem(reference.ACTIVATIONS, "tanh", slightly_off)
    bp = reference.backprop(case.arch, case.params, case.x, case.y)
    found = complex_step_mismatches(case, bp, rng)
    assert found and all(line.startswith(("layer 1", "layer 2")) for line in found), found


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_L_i_E_and_gradient_of_float32_h_are_float32(loss: str) -> None:
    rng = np.random.default_rng(1)
    h = rng.standard_normal((4, 3)).astype(np.float32)
    # y as check_inputs gives it: labels as integers, float targets in the parameters' dtype
    y = rng.integers(0, 3, 4) if loss == "cross_entropy" else rng.uniform(0, 1, (4, 3))
    y = y if loss == "cross_entropy" else y.astype(np.float32)
    L_i = reference.LOSSES[loss].per_example(h, y)
    E = reference.LOSSES[loss].value(h, y)
    grad = reference.LOSSES[loss].grad(h, y)
    assert grad.dtype == np.float32, f"{loss}: dE/dh^L of float32 h has dtype {grad.dtype}"
    assert L_i.dtype == np.float32, f"{loss}: L_i of float32 h has dtype {L_i.dtype}"
    assert np.asarray(E).dtype == np.float32, (
        f"{loss}: E of float32 h has dtype {np.asarray(E).dtype}"
    )


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_L_i_and_E_of_float32_h_are_those_of_float64_rounded_once(loss: str) -> None:
    """float32 h is computed in float64 and rounded to float32 at the end (reference.losses): the
    L_i and E of float32 h and y are, bit for bit, those of the same numbers in float64, rounded
    to float32 (so are the cross-entropies' dE/dh^L)."""
    rng = np.random.default_rng(2)
    h = (rng.standard_normal((64, 3)) * 10.0 ** rng.uniform(-2, 2, (64, 1))).astype(np.float32)
    y = rng.integers(0, 3, 64) if loss == "cross_entropy" else rng.uniform(0, 1, (64, 3))
    y32 = y if loss == "cross_entropy" else y.astype(np.float32)
    y64 = y if loss == "cross_entropy" else y32.astype(np.float64)
    f = reference.LOSSES[loss]
    h64 = h.astype(np.float64)
    np.testing.assert_array_equal(f.per_example(h, y32), f.per_example(h64, y64).astype(np.float32))
    assert f.value(h, y32) == np.float32(f.value(h64, y64)), f"{loss}: E of float32 h"
    if loss != "squared_error":  # (h - y) / n is computed in the dtype of h itself
        np.testing.assert_array_equal(f.grad(h, y32), f.grad(h64, y64).astype(np.float32))
