"""The elementwise steps done in blocks of rows (and in threads) give the plain formula's values."""

import numpy as np
import pytest

import reference
from reference import network, row_blocks
from reference.activations import ACTIVATIONS

# above PARALLEL_MIN_ENTRIES, so the blocks run in worker threads; 37 columns make the last
# block a partial one
LARGE = (row_blocks.PARALLEL_MIN_ENTRIES // 37 + 5, 37)
MEDIUM = (row_blocks.ROW_BLOCK_ENTRIES // 37 + 5, 37)  # blocked, in the calling thread


@pytest.mark.parametrize("shape", [LARGE, MEDIUM], ids=["threads", "blocks"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activate_in_blocks_equals_phi_on_the_whole_array(name: str, shape) -> None:
    z = np.random.default_rng(0).standard_normal(shape) * 10
    phi = ACTIVATIONS[name].phi
    np.testing.assert_array_equal(network.activate(z, phi), phi(z), err_msg=name)


@pytest.mark.parametrize("shape", [LARGE, MEDIUM], ids=["threads", "blocks"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_hidden_delta_in_blocks_equals_the_formula(name: str, shape) -> None:
    rng = np.random.default_rng(1)
    n, width = shape
    delta_next, W_next = rng.standard_normal((n, 3)), rng.standard_normal((width, 3))
    z = rng.standard_normal(shape) * 10
    dphi = ACTIVATIONS[name].dphi
    expected = dphi(z) * (delta_next @ W_next.T)
    got = network.hidden_delta(delta_next, W_next, z, dphi)
    np.testing.assert_array_equal(got, expected, err_msg=name)


def test_activate_in_blocks_keeps_complex_steps() -> None:
    z = np.random.default_rng(2).standard_normal(LARGE) + 1e-20j
    phi = ACTIVATIONS["tanh"].phi
    np.testing.assert_array_equal(network.activate(z, phi), phi(z))


def test_an_error_in_a_worker_block_reaches_the_caller() -> None:
    def bad_phi(z):
        if z.shape[0] < LARGE[0]:  # only in blocks, never on the whole array
            raise FloatingPointError("planted")
        return z

    with pytest.raises(FloatingPointError, match="planted"):
        network.activate(np.zeros(LARGE), bad_phi)


def test_a_wrong_block_is_caught_by_the_whole_array_check() -> None:
    """The checks above can fail: a phi that differs on one block only is seen."""
    z = np.random.default_rng(3).standard_normal(LARGE)

    def phi_off_on_the_last_block(zb):
        out = np.tanh(zb)
        if zb.shape[0] < LARGE[0] and zb.base is z and zb[-1, -1] == z[-1, -1]:
            out *= 1 + 2**-50
        return out

    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(network.activate(z, phi_off_on_the_last_block), np.tanh(z))


def test_large_gradients_equal_backprop_grads_bitwise() -> None:
    arch = reference.Architecture(
        sizes=(64, 600, 600, 3), activations=("tanh", "relu", "identity"), loss="squared_error"
    )
    rng = np.random.default_rng(4)
    params = reference.init_params(arch, rng)
    x, y = rng.standard_normal((500, 64)), rng.standard_normal((500, 3))
    bp = reference.backprop(arch, params, x, y)
    for l, (grad_W, grad_b) in enumerate(reference.gradients(arch, params, x, y), start=1):
        np.testing.assert_array_equal(grad_W, bp.grad_W[l], err_msg=f"layer {l}: dE/dW")
        np.testing.assert_array_equal(grad_b, bp.grad_b[l], err_msg=f"layer {l}: dE/db")
