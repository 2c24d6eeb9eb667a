"""Behaviours that mutation testing (mutmut over reference/) found no test pinning down.

Each test states one behaviour of the reference; /work/notes/MUTATION_README.md lists the
mutants they kill and the survivors that are equivalent. Expected values are written from the
contract (CONTRACT.md, the docstrings), never copied from the output of the code under test.
"""

import os
import re
import warnings

import numpy as np
import pytest

import reference
from reference import row_blocks
from reference.tests.networks import random_case

TANH_NET = reference.Architecture(
    sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error"
)


def _params(arch: reference.Architecture, seed: int = 0, dtype: type = np.float64):
    return reference.init_params(arch, np.random.default_rng(seed), dtype=dtype)


# --- training -----------------------------------------------------------------------------


def test_bias_gradient_of_wrong_shape_is_named_as_dE_db() -> None:
    params = _params(TANH_NET)
    grads = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    grads[1] = (grads[1][0], np.zeros(3))
    with pytest.raises(ValueError) as e:
        reference.gradient_descent_step(params, grads, 0.1)
    assert str(e.value) == "layer 2: dE/db has shape (3,), but should be (1,), the shape of b"


def test_negative_epochs_and_zero_batch_size_are_refused_with_the_bound() -> None:
    case = random_case(np.random.default_rng(1), sizes=(2, 3, 1), n=4)
    with pytest.raises(ValueError, match=r"^epochs = -1, but should be >= 0$"):
        reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=-1)
    with pytest.raises(ValueError, match=r"^batch_size = 0, but should be >= 1$"):
        reference.train(
            case.arch, case.params, case.x, case.y, alpha=0.1, epochs=1, batch_size=0, rng=None
        )


def test_minibatches_without_a_generator_are_refused_with_how_to_make_one() -> None:
    case = random_case(np.random.default_rng(2), sizes=(2, 3, 1), n=4)
    with pytest.raises(TypeError) as e:
        reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=1, batch_size=2)
    assert str(e.value) == (
        "minibatches need rng, a numpy.random.Generator such as "
        "numpy.random.default_rng(seed), to shuffle the rows"
    )


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_an_epoch_steps_once_per_minibatch_of_the_shuffled_rows(batch_size: int) -> None:
    """n = 7 rows: batch_size 3 gives minibatches of 3, 3 and 1 rows, each one step."""
    case = random_case(np.random.default_rng(3), sizes=(2, 3, 1), n=7)
    trained = reference.train(
        case.arch,
        case.params,
        case.x,
        case.y,
        alpha=0.1,
        epochs=1,
        batch_size=batch_size,
        rng=np.random.default_rng(4),
    )
    order = np.random.default_rng(4).permutation(7)
    params = case.params
    for start in range(0, 7, batch_size):
        rows = order[start : start + batch_size]
        grads = reference.gradients(case.arch, params, case.x[rows], case.y[rows])
        params = [
            (W - 0.1 * gW, b - 0.1 * gb) for (W, b), (gW, gb) in zip(params, grads, strict=True)
        ]
    for (W, b), (W_t, b_t) in zip(params, trained.params, strict=True):
        np.testing.assert_allclose(W_t, W, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(b_t, b, rtol=1e-13, atol=1e-15)


# --- initial parameters ---------------------------------------------------------------------


def test_init_params_gives_weights_and_zero_biases_in_the_asked_dtype() -> None:
    for W, b in _params(TANH_NET, dtype=np.float32):
        assert W.dtype == np.float32 and b.dtype == np.float32
        assert not b.any()


def test_init_params_without_a_generator_says_what_came_and_how_to_make_one() -> None:
    with pytest.raises(TypeError) as e:
        reference.init_params(TANH_NET, 0)
    assert str(e.value) == (
        "rng has type int, but should be a numpy.random.Generator, "
        "e.g. numpy.random.default_rng(seed)"
    )


# --- the worker threads of the elementwise steps -------------------------------------------


def test_worker_pool_has_one_thread_per_usable_core_and_is_made_once(monkeypatch) -> None:
    monkeypatch.setattr(row_blocks, "_pool", None)
    monkeypatch.setattr(row_blocks, "_pool_pid", None)
    pool = row_blocks._workers()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert pool._max_workers == cores
    assert row_blocks._workers() is pool
    pool.shutdown()


@pytest.mark.parametrize(
    ("affinity", "cpu_count", "threads"), [({0}, 2, 1), (None, 3, 3), (None, None, 1)]
)
def test_worker_pool_counts_the_cores_this_process_may_use(
    monkeypatch, affinity, cpu_count, threads
) -> None:
    """Affinity where the platform has it (a container may allow fewer cores than exist),
    else os.cpu_count(), else one thread."""
    monkeypatch.setattr(row_blocks, "_pool", None)
    if affinity is None:
        monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    else:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpu_count)
    pool = row_blocks._workers()
    assert pool._max_workers == threads
    pool.shutdown()


def test_the_callers_errstate_holds_in_the_worker_threads() -> None:
    """np.errstate is per thread (a context variable): each block runs in a copy of the
    caller's context, so an overflow the caller asked to raise raises from a worker too."""
    z = np.zeros((row_blocks.PARALLEL_MIN_ENTRIES // 8, 8))
    z[-1, -1] = 1000.0
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        reference.network.activate(z, np.exp)


def test_worker_pool_is_made_anew_in_a_forked_child(monkeypatch) -> None:
    """After a fork the parent's threads are gone: a pool recorded under another pid is stale."""
    monkeypatch.setattr(row_blocks, "_pool", None)
    monkeypatch.setattr(row_blocks, "_pool_pid", None)
    stale = row_blocks._workers()
    monkeypatch.setattr(row_blocks, "_pool_pid", os.getpid() + 1)
    fresh = row_blocks._workers()
    assert fresh is not stale and row_blocks._pool_pid == os.getpid()
    stale.shutdown()
    fresh.shutdown()


# --- activations ----------------------------------------------------------------------------


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


# --- input checks: messages and conversions -------------------------------------------------


def test_non_finite_entries_are_counted_in_the_message() -> None:
    x = np.array([[0.0, np.nan], [np.inf, 1.0], [2.0, -np.inf]])
    with pytest.raises(ValueError) as e:
        reference.forward(TANH_NET, _params(TANH_NET), x)
    assert "(3 non-finite entries)" in str(e.value), e.value


def test_bias_of_a_bad_dtype_is_named_b_without_a_complex_hint() -> None:
    params = _params(TANH_NET)
    params[1] = (params[1][0], params[1][1].astype(np.float16))
    with pytest.raises(TypeError) as e:
        reference.forward(TANH_NET, params, np.ones((2, 2)))
    assert str(e.value) == (
        "layer 2: b of shape (1,) has dtype float16, but should be one of "
        "float64, float32, complex128"
    )


def test_complex_parameters_in_backprop_get_the_hint_where_they_are_accepted() -> None:
    params = _params(TANH_NET)
    params[0] = (params[0][0].astype(complex), params[0][1])
    with pytest.raises(TypeError) as e:
        reference.backprop(TANH_NET, params, np.ones((2, 2)), np.zeros((2, 1)))
    assert str(e.value) == (
        "layer 1: W of shape (2, 3) has dtype complex128, but should be one of float64, "
        "float32; complex parameters are accepted by forward() and error() only"
    )


def test_complex_input_in_backprop_is_refused_naming_where_it_is_accepted() -> None:
    with pytest.raises(TypeError) as e:
        reference.backprop(TANH_NET, _params(TANH_NET), np.ones((2, 2), complex), np.zeros((2, 1)))
    assert str(e.value).endswith(
        "but should be real for layer 1: complex input is accepted by forward() and error() only"
    )


def test_mixed_dtypes_name_the_weight_that_differs() -> None:
    params = _params(TANH_NET)
    params[1] = (params[1][0].astype(np.float32), params[1][1])
    with pytest.raises(TypeError) as e:
        reference.forward(TANH_NET, params, np.ones((2, 2)))
    assert str(e.value).startswith("layer 2: W of shape (3, 1) has dtype float32"), e.value


def test_complex_input_with_real_parameters_is_propagated_as_complex() -> None:
    """A complex step in x alone: h^L carries the imaginary part (no silent cast to real)."""
    x = np.ones((2, 2)) + 1e-20j
    h_L = reference.forward(TANH_NET, _params(TANH_NET), x).h[2]
    assert h_L.dtype == np.complex128 and np.all(h_L.imag != 0)


@pytest.mark.parametrize("layer", ["ab", 7])
def test_a_layer_that_is_not_a_pair_is_named_with_its_type(layer) -> None:
    with pytest.raises(TypeError) as e:
        reference.forward(TANH_NET, [layer, _params(TANH_NET)[1]], np.ones((2, 2)))
    assert str(e.value).startswith(
        f"layer 1: params[0] has type {type(layer).__name__}, but should be a pair (W, b)"
    ), e.value


def test_wrong_input_width_names_n_0_and_the_empty_batch_says_what_to_do() -> None:
    arch = reference.Architecture(
        sizes=(2, 5, 1), activations=("tanh", "identity"), loss="squared_error"
    )
    with pytest.raises(ValueError) as e:
        reference.forward(arch, _params(arch), np.ones((4, 3)))
    assert "n_0 = 2 inputs, the rows of layer 1's W of shape (2, 5)" in str(e.value), e.value
    with pytest.raises(ValueError) as e:
        reference.forward(arch, _params(arch), np.ones((0, 2)))
    assert str(e.value).endswith("give at least one row"), e.value


def test_integer_regression_targets_are_computed_in_the_parameters_dtype() -> None:
    arch = reference.Architecture(
        sizes=(2, 3, 1), activations=("tanh", "identity"), loss="squared_error"
    )
    params = _params(arch, dtype=np.float32)
    x, y = np.ones((4, 2), np.float32), np.arange(4).reshape(4, 1)
    bp = reference.backprop(arch, params, x, y)
    assert np.asarray(bp.E).dtype == np.float32
    assert all(g.dtype == np.float32 for grad in bp.grads for g in grad)
    assert bp.delta[2].dtype == np.float32


def test_unknown_names_are_refused_listing_the_valid_names() -> None:
    with pytest.raises(ValueError) as e:
        reference.Architecture(sizes=(2, 1), activations=("swish",), loss="squared_error")
    assert str(e.value) == (
        "layer 1: activation 'swish' is unknown; valid names: identity, sigmoid, tanh, relu, "
        "leaky_relu, softplus, elu, gelu_tanh"
    )
    with pytest.raises(ValueError) as e:
        reference.Architecture(sizes=(2, 1), activations=("tanh",), loss="hinge")
    assert str(e.value) == (
        "loss 'hinge' is unknown; valid names: squared_error, cross_entropy, binary_cross_entropy"
    )


@pytest.mark.parametrize(
    ("sizes", "activations", "message"),
    [
        (
            (2, 1),
            "tanh",
            "activations is the string 'tanh', but should be a sequence of one "
            "name per layer, e.g. ('tanh', 'identity')",
        ),
        ((2, 2.5), ("tanh",), "sizes[1] = 2.5, but every width should be an int >= 1"),
        ((True, 1), ("tanh",), "sizes[0] = True, but every width should be an int >= 1"),
        ((2, 0), ("tanh",), "sizes[1] = 0, but every width should be an int >= 1"),
        ((2,), (), "sizes = (2,), but should hold n_0 and at least n_1 (L >= 1 layers)"),
        (
            (2, 3, 1),
            ("tanh",),
            "activations has 1 names, but should have one per layer: L = 2 for sizes (2, 3, 1)",
        ),
    ],
)
def test_bad_architecture_is_refused_saying_what_is_expected(sizes, activations, message) -> None:
    with pytest.raises((ValueError, TypeError)) as e:
        reference.Architecture(sizes=sizes, activations=activations, loss="squared_error")
    assert str(e.value) == message


def test_architecture_stores_sizes_and_activations_as_tuples_of_plain_values() -> None:
    arch = reference.Architecture(
        sizes=[2, np.int64(3), 1], activations=["tanh", "identity"], loss="squared_error"
    )
    assert arch.sizes == (2, 3, 1) and type(arch.sizes) is tuple
    assert all(type(n) is int for n in arch.sizes)
    assert arch.activations == ("tanh", "identity") and type(arch.activations) is tuple


def test_biases_given_as_lists_are_accepted_like_arrays() -> None:
    params = _params(TANH_NET, seed=3)
    as_lists = [(W, b.tolist()) for W, b in params]
    x = np.ones((2, 2))
    np.testing.assert_array_equal(
        reference.forward(TANH_NET, as_lists, x).h[2], reference.forward(TANH_NET, params, x).h[2]
    )


# --- the losses: one value per row, for any leading axes ---------------------------------


def _targets(loss: str, n: int, n_L: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "cross_entropy":
        return rng.integers(0, n_L, size=n)
    return rng.uniform(0, 1, size=(n, n_L))


def _by_hand(loss: str, h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L_i of CONTRACT section 3 for each row of a (n, n_L) h, one row at a time."""
    rows = []
    for h_i, y_i in zip(h, y, strict=True):
        if loss == "squared_error":
            rows.append(0.5 * sum((a - b) ** 2 for a, b in zip(h_i, y_i, strict=True)))
        elif loss == "cross_entropy":
            rows.append(np.log(np.sum(np.exp(h_i))) - h_i[y_i])
        else:
            rows.append(sum(np.log1p(np.exp(a)) - b * a for a, b in zip(h_i, y_i, strict=True)))
    return np.array(rows)


@pytest.mark.parametrize("loss", list(reference.LOSSES))
def test_per_example_gives_one_loss_per_row_for_any_leading_axes(loss: str) -> None:
    rng = np.random.default_rng(7)
    n, n_L = 4, 3
    h, y = rng.standard_normal((2, n, n_L)), _targets(loss, n, n_L, rng)
    per_example = reference.LOSSES[loss].per_example
    rows = per_example(h, y)
    assert rows.shape == (2, n)
    for k in range(2):
        assert per_example(h[k], y).shape == (n,)
        np.testing.assert_allclose(rows[k], _by_hand(loss, h[k], y), rtol=1e-13)


def test_cross_entropy_of_a_row_far_below_the_others_is_shifted_by_its_own_maximum() -> None:
    """logsumexp is shifted row by row: a row at -1000 must not underflow to log(0)."""
    h, y = np.array([[0.0, 1.0], [-1000.0, -999.0]]), np.array([0, 0])
    rows = reference.LOSSES["cross_entropy"].per_example(h, y)
    expected = np.log1p(np.exp(1.0))  # log(e^0 + e^1) - 0, the same for both rows
    np.testing.assert_allclose(rows, [expected, expected], rtol=1e-12)


def test_cross_entropy_gradient_of_extreme_logits_warns_nothing() -> None:
    """h - max(h) overflows to -inf for logits 1e308 apart, where e^(h - max) is 0 anyway."""
    h = np.array([[-1e308, 1e308], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = reference.LOSSES["cross_entropy"].grad(h, np.array([1, 0]))
    np.testing.assert_array_equal(grad[0], [0.0, 0.0])


# --- target checks of the losses ------------------------------------------------------------


def _error_message(loss: str, y, n_L: int = 2) -> str:
    arch = reference.Architecture(sizes=(2, n_L), activations=("identity",), loss=loss)
    with pytest.raises((ValueError, TypeError)) as e:
        reference.error(arch, _params(arch), np.ones((3, 2)), y)
    return str(e.value)


def test_cross_entropy_labels_of_wrong_shape_or_kind_get_messages_saying_what_to_do() -> None:
    message = _error_message("cross_entropy", np.zeros((3, 2), np.int64))
    assert message.startswith(
        "y has shape (3, 2), but should be (3,): one integer label per row of x for cross_entropy"
    ), message
    message = _error_message("cross_entropy", np.zeros(3))
    assert "convert with y.astype(int) if they are whole numbers [" in message, message


@pytest.mark.parametrize("loss", ["squared_error", "binary_cross_entropy"])
def test_float_targets_name_their_loss_in_shape_and_dtype_errors(loss: str) -> None:
    message = _error_message(loss, np.zeros((3, 1)))
    assert message.startswith(
        f"y has shape (3, 1), but should be (3, 2) to match h^L (3 rows of x, n_L = 2) for {loss} ["
    ), message
    message = _error_message(loss, np.zeros((3, 2), bool))
    assert message.startswith(f"y has dtype bool, but {loss} needs real numbers ["), message


def test_binary_cross_entropy_accepts_targets_0_and_1_exactly() -> None:
    arch = reference.Architecture(
        sizes=(2, 2), activations=("identity",), loss="binary_cross_entropy"
    )
    y = [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]  # a list: through the detailed checks
    E = reference.error(arch, _params(arch), np.ones((3, 2)), y)
    assert np.isfinite(E)
    assert re.search(
        r"y\[0, 1\] = 1\.5", _error_message("binary_cross_entropy", np.add(y, [0, 0.5]))
    )
