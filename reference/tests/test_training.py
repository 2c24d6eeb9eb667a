"""Gradient descent with the seed's rule Delta W^l = -alpha dE/dW^l, Delta b^l = -alpha dE/db^l."""

import numpy as np
import pytest

import reference
from reference.tests.messages import assert_message
from reference.tests.networks import random_case

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])
XOR = reference.Architecture(sizes=(2, 4, 1), activations=("tanh", "sigmoid"), loss="squared_error")


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def test_gradient_descent_step_applies_minus_alpha_times_the_gradient() -> None:
    # dyadic numbers: W - alpha dE/dW is exact
    W, b = _read_only(np.array([[1.0, -2.0], [0.5, 0.25]])), _read_only(np.array([0.5, -1.0]))
    grad_W, grad_b = (
        _read_only(np.array([[4.0, 1.0], [-2.0, 0.0]])),
        _read_only(np.array([1.0, 3.0])),
    )
    [(new_W, new_b)] = reference.gradient_descent_step([(W, b)], [(grad_W, grad_b)], 0.25)
    # [[1 - 1, -2 - 1/4], [1/2 + 1/2, 1/4 - 0]] and [1/2 - 1/4, -1 - 3/4]
    np.testing.assert_array_equal(new_W, [[0.0, -2.25], [1.0, 0.25]], strict=False)
    np.testing.assert_array_equal(new_b, [0.25, -1.75])
    # new arrays; the old ones unchanged
    assert not np.shares_memory(new_W, W) and not np.shares_memory(new_b, b)
    np.testing.assert_array_equal(W, [[1.0, -2.0], [0.5, 0.25]])
    np.testing.assert_array_equal(b, [0.5, -1.0])


def test_gradient_descent_step_rejects_a_gradient_of_another_shape() -> None:
    W, b = np.ones((3, 2)), np.ones(2)
    with pytest.raises(
        ValueError, match=r"layer 2: dE/dW has shape \(2, 3\), but should be \(3, 2\)"
    ):
        reference.gradient_descent_step([(W, b), (W, b)], [(W, b), (W.T, b)], 0.1)
    with pytest.raises(ValueError, match="grads has 1 layers, but params has 2"):
        reference.gradient_descent_step([(W, b), (W, b)], [(W, b)], 0.1)


def test_a_bias_gradient_of_another_shape_is_named_dE_db() -> None:
    W, b = np.ones((3, 2)), np.ones(2)
    with pytest.raises(ValueError) as e:
        reference.gradient_descent_step([(W, b), (W, b)], [(W, b), (W, np.ones(3))], 0.1)
    assert_message(
        e.value, layer=2, quantity="dE/db", got="(3,)", expected="(2,)", mentions=["shape of b"]
    )


def test_train_records_E_after_each_epoch() -> None:
    rng = np.random.default_rng(20)
    case = random_case(rng, sizes=(3, 4, 2), activations=("tanh", "identity"), n=8)
    result = reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=3)
    assert len(result.E) == 3 and all(isinstance(E, float) for E in result.E)
    # epoch 1 by hand: one full-batch step, then E on the whole data set
    grads = reference.gradients(case.arch, case.params, case.x, case.y)
    params_1 = reference.gradient_descent_step(case.params, grads, 0.1)
    assert result.E[0] == reference.error(case.arch, params_1, case.x, case.y)
    assert result.E[-1] == reference.error(case.arch, result.params, case.x, case.y)


def test_train_with_no_epochs_keeps_the_parameters() -> None:
    rng = np.random.default_rng(21)
    case = random_case(rng, sizes=(3, 2), n=4)
    result = reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=0)
    assert result.E == ()
    for (W, b), (W0, b0) in zip(result.params, case.params, strict=True):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)


def test_train_lowers_E_on_xor() -> None:
    params = reference.init_params(XOR, np.random.default_rng(0))
    E_0 = reference.error(XOR, params, XOR_X, XOR_Y)
    result = reference.train(XOR, params, XOR_X, XOR_Y, alpha=2.0, epochs=1000)
    assert result.E[-1] < E_0 / 100, f"E went from {E_0} to {result.E[-1]}"
    outputs = reference.forward(XOR, result.params, XOR_X).h[XOR.L]
    np.testing.assert_array_equal(outputs > 0.5, XOR_Y > 0.5)


def test_minibatches_are_reproducible_from_the_seed() -> None:
    rng = np.random.default_rng(22)
    case = random_case(rng, sizes=(3, 4, 2), activations=("tanh", "identity"), n=10)

    def run(seed: int) -> reference.Training:
        return reference.train(
            case.arch,
            case.params,
            case.x,
            case.y,
            alpha=0.1,
            epochs=4,
            batch_size=3,
            rng=np.random.default_rng(seed),
        )

    first, again, other = run(1), run(1), run(2)
    assert first.E == again.E
    for (W, b), (W2, b2) in zip(first.params, again.params, strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    assert first.E != other.E, "another seed should shuffle the rows otherwise"
    full = reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=4)
    assert first.E != full.E, "4 minibatches per epoch should not equal one full-batch step"


def test_minibatches_need_a_generator_and_say_how_to_make_one() -> None:
    rng = np.random.default_rng(23)
    case = random_case(rng, sizes=(3, 2), n=4)
    for not_a_generator in (None, np.random.RandomState(0)):
        with pytest.raises(TypeError) as e:
            reference.train(
                case.arch,
                case.params,
                case.x,
                case.y,
                alpha=0.1,
                epochs=1,
                batch_size=2,
                rng=not_a_generator,
            )
        assert_message(
            e.value,
            quantity="rng",
            mentions=["numpy.random.Generator", "numpy.random.default_rng(seed)"],
        )


def test_negative_epochs_and_a_batch_size_below_1_are_refused_with_the_bound() -> None:
    case = random_case(np.random.default_rng(1), sizes=(2, 3, 1), n=4)
    with pytest.raises(ValueError) as e:
        reference.train(case.arch, case.params, case.x, case.y, alpha=0.1, epochs=-1)
    assert_message(e.value, quantity="epochs", got="-1", expected=">= 0")
    with pytest.raises(ValueError) as e:
        reference.train(
            case.arch, case.params, case.x, case.y, alpha=0.1, epochs=1, batch_size=0, rng=None
        )
    assert_message(e.value, quantity="batch_size", got="0", expected=">= 1")


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
    # the same operations in the same order: the same numbers, bit for bit
    for (W, b), (W_t, b_t) in zip(params, trained.params, strict=True):
        np.testing.assert_array_equal(W_t, W)
        np.testing.assert_array_equal(b_t, b)
