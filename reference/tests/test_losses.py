"""The losses of docs/contract.md, section 3: one value per row for any leading axes, and
extreme logits handled without overflow or spurious warnings. (The accuracy of each dE/dh^L
is in test_accuracy.py.)"""

import warnings

import numpy as np
import pytest

import reference


def _targets(loss: str, n: int, n_L: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "cross_entropy":
        return rng.integers(0, n_L, size=n)
    return rng.uniform(0, 1, size=(n, n_L))


def _by_hand(loss: str, h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L_i of docs/contract.md, section 3, for each row of a (n, n_L) h, one row at a time."""
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
