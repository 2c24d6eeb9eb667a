"""Valid input in another form than the canonical one is accepted as if it were canonical:
lists for arrays, NumPy integers for widths, targets exactly on the bounds of their range."""

import numpy as np

import reference

TANH_NET = reference.Architecture(
    sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error"
)


def test_architecture_stores_sizes_and_activations_as_tuples_of_plain_values() -> None:
    arch = reference.Architecture(
        sizes=[2, np.int64(3), 1], activations=["tanh", "identity"], loss="squared_error"
    )
    assert arch.sizes == (2, 3, 1) and type(arch.sizes) is tuple
    assert all(type(n) is int for n in arch.sizes)
    assert arch.activations == ("tanh", "identity") and type(arch.activations) is tuple


def test_biases_given_as_lists_are_accepted_like_arrays() -> None:
    params = reference.init_params(TANH_NET, np.random.default_rng(3))
    params = [(W, np.arange(b.size) / 4) for W, b in params]  # non-zero biases
    as_lists = [(W, b.tolist()) for W, b in params]
    x = np.ones((2, 2))
    np.testing.assert_array_equal(
        reference.forward(TANH_NET, as_lists, x).h[2], reference.forward(TANH_NET, params, x).h[2]
    )


def test_binary_cross_entropy_accepts_targets_0_and_1_exactly() -> None:
    """The bounds of [0, 1] belong to it; a list goes through the detailed checks."""
    arch = reference.Architecture(
        sizes=(2, 2), activations=("identity",), loss="binary_cross_entropy"
    )
    params = reference.init_params(arch, np.random.default_rng(0))
    E = reference.error(arch, params, np.ones((3, 2)), [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    assert np.isfinite(E)
