"""The losses of docs/contract.md, section 3: one value per row for any leading axes, and
extreme logits handled without overflow or spurious warnings. (The accuracy of each dE/dh^L
is in test_accuracy.py.)"""

import warnings
from fractions import Fraction

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


# A complex step s small enough that Re L(h + i s) is L(h) to the last bit: the complex path
# (the plain formulas, for complex-step differentiation) is then checked against the real L_i.
STEP = 1e-200


@pytest.mark.parametrize("step", [0.0, STEP], ids=["real", "complex"])
@pytest.mark.parametrize("loss", list(reference.LOSSES))
def test_per_example_gives_one_loss_per_row_for_any_leading_axes(loss: str, step: float) -> None:
    rng = np.random.default_rng(7)
    n, n_L = 4, 3
    h, y = rng.standard_normal((2, n, n_L)), _targets(loss, n, n_L, rng)
    if step:
        h = h + 1j * step
    per_example = reference.LOSSES[loss].per_example
    rows = per_example(h, y)
    assert rows.shape == (2, n)
    for k in range(2):
        assert per_example(h[k], y).shape == (n,)
        np.testing.assert_allclose(rows[k].real, _by_hand(loss, h[k].real, y), rtol=1e-13)


@pytest.mark.parametrize("step", [0.0, STEP], ids=["real", "complex"])
def test_cross_entropy_of_a_row_far_below_the_others_is_shifted_by_its_own_maximum(
    step: float,
) -> None:
    """logsumexp is shifted row by row: a row at -1000 must not underflow to log(0)."""
    h, y = np.array([[0.0, 1.0], [-1000.0, -999.0]]) + 1j * step, np.array([0, 0])
    if not step:
        h = h.real
    rows = reference.LOSSES["cross_entropy"].per_example(h, y)
    expected = np.log1p(np.exp(1.0))  # log(e^0 + e^1) - 0, the same for both rows
    np.testing.assert_allclose(rows.real, [expected, expected], rtol=1e-12)


def test_cross_entropy_gradient_of_extreme_logits_warns_nothing() -> None:
    """h - max(h) overflows to -inf for logits 1e308 apart, where e^(h - max) is 0 anyway."""
    h = np.array([[-1e308, 1e308], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = reference.LOSSES["cross_entropy"].grad(h, np.array([1, 0]))
    np.testing.assert_array_equal(grad[0], [0.0, 0.0])


def _recording(monkeypatch: pytest.MonkeyPatch, name: str) -> list[np.ndarray]:
    """Wrap reference.losses.<name> so that each call's first argument is recorded."""
    import reference.losses

    original, calls = getattr(reference.losses, name), []

    def recorded(*args: object) -> object:
        calls.append(np.asarray(args[0]))
        return original(*args)

    monkeypatch.setattr(reference.losses, name, recorded)
    return calls


def test_binary_cross_entropy_gradient_of_targets_0_and_1_needs_no_double_double_exp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sigma(h) - y for y in {0, 1} is E / (1 + E) or 1 / (1 + E) up to sign, with nothing that
    cancels: exp's E serves. exp_dd (about 10 times the work) is for the targets in (0, 1)."""
    calls = _recording(monkeypatch, "exp_dd")
    rng = np.random.default_rng(5)
    h = rng.standard_normal((6, 4)) * 30
    y = rng.integers(0, 2, h.shape).astype(np.float64)
    y[2, 1], y[4, 3] = 0.25, 0.75
    reference.LOSSES["binary_cross_entropy"].grad(h, y)
    sizes = [c.size for c in calls]
    assert sizes == [2], f"exp_dd got arrays of {sizes} entries, but should get the 2 y in (0, 1)"


def test_binary_cross_entropy_gradient_asks_the_decimal_module_only_where_y_nears_sigma(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The double-double difference sigma(h) - y is within 2 EXP_DD_RTOL = 2^-91 of the larger
    of sigma(h) and y, so it is decided without the decimal module wherever |sigma(h) - y| is
    more than 2^-36 of them (FALLBACK_RTOL = 2^-55): here every target is at least 1e-3 away
    from sigma(h), or, for h from -60 to -30 (sigma(h) below 1e-13), at most half of it."""
    calls = _recording(monkeypatch, "exact_sigmoid_minus")
    rng = np.random.default_rng(6)
    h = rng.standard_normal((50, 4)) * 10.0 ** rng.uniform(-3, 2, (50, 1))
    sigma = 1 / (1 + np.exp(-h))
    y = np.clip(sigma + rng.choice([-1, 1], h.shape) * rng.uniform(1e-3, 0.5, h.shape), 0.01, 0.99)
    assert np.all(np.abs(y - sigma) >= 1e-3 - 1e-12), "a target nearer sigma(h) than 1e-3"
    tiny_h = rng.uniform(-60, -30, (20, 4))
    tiny_y = np.exp(tiny_h) * rng.uniform(0, 0.5, tiny_h.shape)  # sigma(h) = e^h (1 - e^h ...)
    h, y = np.concatenate([h, tiny_h]), np.concatenate([y, tiny_y])
    reference.LOSSES["binary_cross_entropy"].grad(h, y)
    assert not calls, (
        f"the decimal module decided {len(calls)} of {h.size} entries, e.g. h = {calls[:1]}, "
        "but none has y within 2^-36 of sigma(h)"
    )


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
def test_gradient_computed_in_blocks_is_that_of_each_quarter_batch_quartered(loss: str) -> None:
    """Rows are independent and a power-of-two n divides exactly: for a batch of 8192 rows
    (24,576 entries, computed in blocks of 2730 rows, past 8192 entries), four times dE/dh^L
    is, bit for bit, the dE/dh^L of each quarter batch on its own (2048 rows: one block)."""
    rng = np.random.default_rng(11)
    h = rng.standard_normal((8192, 3)) * 3
    y = _targets(loss, 8192, 3, rng)
    grad = reference.LOSSES[loss].grad
    whole = grad(h, y)
    for start in range(0, 8192, 2048):
        quarter = slice(start, start + 2048)
        np.testing.assert_array_equal(
            4 * whole[quarter], grad(h[quarter], y[quarter]), err_msg=f"{loss}: rows {quarter}"
        )


@pytest.mark.parametrize("loss", list(reference.LOSSES))
@pytest.mark.parametrize(
    "shape",
    [(20, 600, 3), (2100, 2, 2), (2, 4, 500, 3), (2, 3000, 4)],
    ids=["blocks of batches", "of many small batches", "of batches, 2 leading axes", "of rows"],
)
def test_L_i_computed_in_blocks_are_those_of_each_row_alone(loss: str, shape: tuple) -> None:
    """L_i depends on row i alone: past 8192 entries, where whole batches (..., n, n_L), or rows
    of one batch, are computed a block at a time, every L_i is, bit for bit, that of its row
    passed on its own (checked at 200 rows drawn at random, and the first and last of each
    batch)."""
    rng = np.random.default_rng(12)
    *leading, n, n_L = shape
    h, y = rng.standard_normal(shape) * 3, _targets(loss, n, n_L, rng)
    per_example = reference.LOSSES[loss].per_example
    rows = per_example(h, y)
    assert rows.shape == (*leading, n)
    h, rows = h.reshape(-1, n, n_L), rows.reshape(-1, n)
    K = h.shape[0]
    drawn = zip(rng.integers(0, K, 200).tolist(), rng.integers(0, n, 200).tolist(), strict=True)
    ends = [(k, i) for k in range(0, K, max(1, K // 50)) for i in (0, n - 1)]
    for k, i in [*drawn, *ends, (K - 1, n - 1)]:
        alone = per_example(h[k, i : i + 1], y[i : i + 1])[0]
        assert rows[k, i] == alone, (
            f"{loss}: L_i of h{list(shape)} (batch {k}, row {i}) = {rows[k, i]!r}, "
            f"but alone {alone!r}"
        )


@pytest.mark.parametrize("loss", list(reference.LOSSES))
def test_L_i_and_E_are_inf_without_a_warning_where_the_L_i_overflow(loss: str) -> None:
    """Rows whose exact L_i exceed the largest double (h^L of 1e200 against targets of 0, a
    label 3.4e308 below the maximum, two terms softplus(1.7e308) = 1.7e308): L_i and E =
    (1/n) sum L_i are beyond it, so +inf, and nothing on the way is worth a warning."""
    h = {
        "squared_error": np.array([[1e200, 0.0], [0.0, -1e200]]),
        "cross_entropy": np.array([[1.7e308, -1.7e308], [-1.7e308, 1.7e308]]),
        "binary_cross_entropy": np.array([[1.7e308, 1.7e308], [1.7e308, 1.7e308]]),
    }[loss]
    y = {
        "squared_error": np.zeros((2, 2)),
        "cross_entropy": np.array([1, 0]),
        "binary_cross_entropy": np.zeros((2, 2)),
    }[loss]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L_i = reference.LOSSES[loss].per_example(h, y)
        E = reference.LOSSES[loss].value(h, y)
    assert np.isposinf(L_i).all(), f"{loss}: L_i = {L_i}, beyond 1.8e308, but should be inf"
    assert np.isposinf(E), f"{loss}: E = {E!r} for L_i beyond 1.8e308, but should be inf"


def _correctly_rounded(exact: Fraction) -> float:
    """The double nearest a positive rational, inf from the largest double plus half an ULP."""
    limit = Fraction(2**1024 - 2**970)  # the midpoint between the largest double and 2^1024
    return float("inf") if exact >= limit else float(exact)


@pytest.mark.parametrize("exponent", [511.99, 512.2, 512.45])
def test_squared_error_is_finite_where_its_squares_overflow_but_L_i_and_E_do_not(
    exponent: float,
) -> None:
    """|h - y| between 2^512 and 2^512.5: (h - y)^2 is beyond the largest double, but
    1/2 (h - y)^2 is not, nor is the mean of two such rows (whose sum is): L_i and E are the
    exact values correctly rounded, without a warning."""
    h = np.array([[2.0**exponent, 1.0], [3.0, -(2.0**exponent)]])
    y = np.array([[0.0, 0.5], [1.0, 0.0]])
    exact = [
        sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(h_i, y_i, strict=True)) / 2
        for h_i, y_i in zip(h, y, strict=True)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L_i = reference.LOSSES["squared_error"].per_example(h, y)
        E = reference.LOSSES["squared_error"].value(h, y)
    assert list(L_i) == [_correctly_rounded(L) for L in exact], (L_i, exact)
    mean = _correctly_rounded(sum(exact) / 2)
    assert mean == E, (E, exact)


def test_cross_entropy_E_is_finite_where_the_sum_of_its_rows_overflows() -> None:
    """Two rows of L_i = 1.5e308 (a label 1.5e308 below the other logit): their sum is beyond
    the largest double, their mean E = 1.5e308 is not."""
    h = np.array([[-1.5e308, 0.0], [0.0, -1.5e308]])
    E = reference.LOSSES["cross_entropy"].value(h, np.array([0, 1]))
    assert E == 1.5e308, E


# Each side below sums n_L = 3 terms n dE/dh_k v_k of size below 12 (|h - y| < 4 for these h
# and y, |v| < 3), each within a few ULP of itself (the complex path's plain formulas, the
# gradient within 4 ULP): a few units of ulp(36) = 7e-15 on each side, so 1e-13 absolute.
SLOPE_ATOL = 1e-13


@pytest.mark.parametrize("loss", list(reference.LOSSES))
def test_complex_step_of_L_i_gives_n_times_the_gradient(loss: str) -> None:
    """Im L_i(h + i s v) / s = sum_k dL_i/dh_k v_k + O(s^2), and dE/dh^L = (1/n) dL_i/dh^L: the
    complex path of per_example carries the slope along v."""
    rng = np.random.default_rng(13)
    n, n_L = 5, 3
    h, y = rng.standard_normal((n, n_L)), _targets(loss, n, n_L, rng)
    v = rng.uniform(-3, 3, n_L)
    slopes = reference.LOSSES[loss].per_example(h + 1j * STEP * v, y).imag / STEP
    expected = n * reference.LOSSES[loss].grad(h, y) @ v
    np.testing.assert_allclose(slopes, expected, rtol=0, atol=SLOPE_ATOL, err_msg=loss)
