"""The activations beyond their accuracy (test_accuracy.py holds that): large arrays, huge
inputs and complex steps give the values of the definitions, with no spurious warning."""

import cmath
import warnings

import numpy as np
import pytest

import reference


def test_elu_of_a_large_real_valued_complex_step_warns_nothing() -> None:
    """A complex step leaves the other entries with imaginary part 0: e^1000 (1 + 0j) must
    not raise numpy's invalid-value warning (inf * 0) in the branch that is discarded."""
    z = np.array([[1000.0 + 0j, -3.0 + 0j]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = reference.ACTIVATIONS["elu"].phi(z)
    np.testing.assert_array_equal(h, [[1000.0, np.expm1(-3.0)]])


def test_softplus_of_large_complex_steps_warns_nothing() -> None:
    """Both branches are evaluated: e^-z of the discarded one may overflow (or give inf * 0)."""
    z = np.array([[-1000.0 + 0j, 1000.0 + 0j, 1000.0 + 1e-20j]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = reference.ACTIVATIONS["softplus"].phi(z)
    np.testing.assert_array_equal(h.real, [[0.0, 1000.0, 1000.0]])


# Complex z well inside the strip |Im z| < pi, where log(1 + e^z) has no branch cut to cross,
# on both sides of Re z = 0 (softplus takes another branch for Re z > 0).
COMPLEX_Z = [0.5 + 0.7j, -2.0 + 1.3j, 3.0 - 0.4j, -0.25 - 2.5j, 1e-3 + 1e-3j]
# cmath's log and exp of moderate arguments are within a few ULP, and e^z here is far from -1,
# so log(1 + e^z) loses nothing to cancellation: 1e-14 leaves room for those roundings.
COMPLEX_SOFTPLUS_RTOL = 1e-14


def test_softplus_of_a_complex_z_is_log_of_1_plus_e_to_the_z() -> None:
    """Not only complex steps: any imaginary part in the strip gives the principal value."""
    h = reference.ACTIVATIONS["softplus"].phi(np.array(COMPLEX_Z))
    expected = [cmath.log(1 + cmath.exp(z)) for z in COMPLEX_Z]
    np.testing.assert_allclose(h, expected, rtol=COMPLEX_SOFTPLUS_RTOL, atol=0)


@pytest.mark.parametrize("name", list(reference.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dphi_of_a_large_array_equals_dphi_of_its_pieces(name: str, dtype: type) -> None:
    """Past one block (2^15 entries) each dphi is computed block by block into its result."""
    z = np.linspace(-30, 30, 3 * 2**15 + 7).astype(dtype).reshape(-1, 1)
    dphi = reference.ACTIVATIONS[name].dphi
    whole = dphi(z)
    pieces = np.concatenate([dphi(z[i : i + 1000]) for i in range(0, len(z), 1000)])
    assert whole.dtype == dtype
    np.testing.assert_array_equal(whole, pieces)


def test_gelu_tanh_slope_is_0_and_1_in_the_tails_up_to_the_largest_float() -> None:
    """Past |z| = 40, sigma'(v) underflows: phi' is exactly 0 (z < 0) or 1 (z > 0); z^3 of a
    huge z must not overflow into a NaN."""
    z = np.array([-1.7e308, -1e200, -41.0, 41.0, 1e200, 1.7e308])
    with np.errstate(over="ignore", invalid="ignore"):
        dphi = reference.ACTIVATIONS["gelu_tanh"].dphi(z)
    np.testing.assert_array_equal(dphi, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])


def test_gelu_tanh_of_huge_z_is_z_or_minus_0_and_warns_nothing() -> None:
    """Past |z| = 40, sigma(v) is 1 or underflows: phi(z) is z to the last bit (z > 0) or -0.0
    (z < 0, the sign of z); z^3 of a huge z must not overflow on the way."""
    z = np.array([-1.7e308, -1e200, -41.0, 41.0, 1e200, 1.7e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phi = reference.ACTIVATIONS["gelu_tanh"].phi(z)
    np.testing.assert_array_equal(phi, [-0.0, -0.0, -0.0, 41.0, 1e200, 1.7e308])
    assert np.signbit(phi[:3]).all(), f"phi({z[:3]}) = {phi[:3]}, but should be -0.0"


@pytest.mark.parametrize("size", [4, 2 * 2**15 + 3], ids=["one block", "several blocks"])
def test_gelu_tanh_keeps_the_sign_of_z_where_it_underflows(size: int) -> None:
    """phi(z) = z sigma(v) has the sign of z: at z = -50 it is about -50 e^-5600, which rounds
    to -0.0, also where phi is computed block by block (past 2^15 entries)."""
    phi = reference.ACTIVATIONS["gelu_tanh"].phi(np.full(size, -50.0))
    assert np.all(phi == 0) and np.signbit(phi).all(), (
        f"gelu_tanh(-50) = {phi[~np.signbit(phi)][:1]} at {np.count_nonzero(~np.signbit(phi))} "
        f"of {size} entries, but should be -0.0"
    )
