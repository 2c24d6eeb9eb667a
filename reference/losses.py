"""The losses: E = (1/n) sum_i L(h^L_i, y_i) and dE/dh^L (docs/contract.md, section 3).

E is the batch MEAN, so every dE/dh^L carries the factor 1/n. The cross-entropies take logits:
h^L is the raw output of the last layer, and the softmax or sigmoid lives inside the loss.
`value` and `per_example` accept complex h (for complex-step differentiation); `grad` needs
real h.

Accuracy: for float64 h, every entry of dE/dh^L, every L_i and E are within 4 ULP of their
exact values, relative to themselves (reference/tests/test_accuracy.py checks them against
mpmath). What would cancel or be amplified is carried in double-double
(reference.double_double) and rounded once: h - y, h_k - max h and m - h_y, the sums over a
row and over the batch, the products with 1/n, and sigma(h) - y for a target y in (0, 1). What
is left is the error of NumPy's exp and log1p (at most 0.72 and 0.57 ULP, measured), which no
formula here amplifies. float32 h is computed in float64 and rounded once; complex h takes the
plain formulas, whose real parts are accurate to a few ULP of their terms.

One limit, at |h^L| near the largest double: (h - y) / n of squared_error is inf once h - y
overflows, although the quotient may not. (L_i and E are inf only where they are beyond the
largest double: rows whose squares overflow, and finite rows whose sum does, are summed again
scaled by a power of two.)
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from reference.activations import softplus
from reference.decimal_fallback import FALLBACK_RTOL, exact_sigmoid_minus
from reference.double_double import (
    EXP_DD_RTOL,
    SHIFT_64_LN2,
    DoubleDouble,
    dd_add,
    dd_div,
    dd_div_to_double,
    dd_mul,
    exp_dd,
    finite_or_zero_lo,
    one_plus,
    sum_last_axis,
    two_prod,
    two_square,
    two_sum,
)
from reference.types import Array


@dataclass(frozen=True)
class Loss:
    """E = value(h, y) and dE/dh^L = grad(h, y) for h = h^L of shape (n, n_L).

    `per_example(h, y)` is L(h^L_i, y_i) for each row, shape (n,); E is its mean. Any leading
    axes broadcast (h of shape (..., n, n_L)), which the finite differences use to evaluate
    many perturbed networks at once.

    `check_targets(y, n, n_L)` raises ValueError or TypeError if y is not a valid target for
    this loss; `targets` says in words what is valid.

    `textbook_per_example(h, y)` is the L_i by the textbook formulas alone (what per_example
    computes for complex h): accurate to a few ULP of the terms it sums, not of L_i, and 3 to
    16 times faster. The finite differences evaluate it on millions of perturbed outputs;
    their noise model counts the rounding of those terms.
    """

    name: str
    per_example: Callable[[Array, np.ndarray], Array]
    value: Callable[[Array, np.ndarray], float | complex]
    grad: Callable[[Array, np.ndarray], Array]
    check_targets: Callable[[np.ndarray, int, int], None]
    targets: str
    textbook_per_example: Callable[[Array, np.ndarray], Array]


# --- what every loss shares: float64 inside, the rows, the batch mean -----------------------

RowsDD = Callable[[np.ndarray, np.ndarray], DoubleDouble]
"""rows(h, y) -> L_i as a double-double, shape (..., n), for float64 h of shape (..., n, n_L)."""


_BLOCK = 1 << 13
"""Entries of h per block of rows: each double-double step makes a temporary the size of its
block, and at 64 KB a block's dozen temporaries stay in cache (the finite differences pass
h of shape (4, K, n, n_L) with millions of entries; whole-array temporaries ran 4x slower)."""


def _in_float64(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float64 or a.dtype.kind in "iu" else a.astype(np.float64)


def _rows_in_blocks(rows: RowsDD, h: np.ndarray, y: np.ndarray) -> DoubleDouble:
    """rows(h, y) for float64 h (..., n, n_L), a block of about _BLOCK entries at a time.

    The rows are independent, so the values are those of one call: blocks of whole (n, n_L)
    batches over the leading axes, or of rows of one batch when a batch alone is larger.
    """
    if h.size <= _BLOCK:
        return rows(h, y)
    n, width = h.shape[-2:]
    batches = h.reshape(-1, n, width)
    hi, lo = np.empty(batches.shape[:2]), np.empty(batches.shape[:2])
    if n * width <= _BLOCK:
        step = _BLOCK // (n * width)
        for start in range(0, batches.shape[0], step):
            block = slice(start, start + step)
            hi[block], lo[block] = rows(batches[block], y)
    else:
        step = max(1, _BLOCK // width)
        for k in range(batches.shape[0]):
            for start in range(0, n, step):
                block = slice(start, start + step)
                hi[k, block], lo[k, block] = rows(batches[k, block], y[block])
    return hi.reshape(h.shape[:-1]), lo.reshape(h.shape[:-1])


ArrayOfHY = Callable[[Array, np.ndarray], Array]
"""f(h, y) -> an array: the L_i (..., n) or dE/dh^L (n, n_L)."""


# per_example, value and grad below take the loss's own functions as their first arguments and
# are bound to them with functools.partial in LOSSES: plain functions rather than closures made
# at import, so that what they do runs (and can be mutated and tested) at call time.


def _per_example(rows: RowsDD, plain: ArrayOfHY, h: Array, y: np.ndarray) -> Array:
    """L_i for each row: rows(h, y) in double-double, rounded once, in the dtype of h (plain(h, y)
    for complex h). Shapes: h (..., n, n_L) -> (..., n)."""
    if np.iscomplexobj(h):
        return plain(h, y)
    with np.errstate(over="ignore", invalid="ignore"):
        L = _rows_in_blocks(rows, _in_float64(h), _in_float64(y))
        hi, lo = finite_or_zero_lo(L)
        return (hi + lo).astype(h.dtype, copy=False)  # a float32 L_i may overflow here


def _value(rows: RowsDD, plain: ArrayOfHY, h: Array, y: np.ndarray) -> float | complex:
    """E = (1/n) sum_i L_i: the double-double rows summed in double-double, divided by n and
    rounded once, as a scalar of the dtype of h. Shapes: h (n, n_L) -> ()."""
    n = h.shape[0]
    if np.iscomplexobj(h):
        return plain(h, y).sum() / n
    with np.errstate(over="ignore", invalid="ignore"):
        L = _rows_in_blocks(rows, _in_float64(h), _in_float64(y))
        total = finite_or_zero_lo(sum_last_axis(L))
        scale = 1.0
        if not np.isfinite(total[0]) and np.isfinite(L[0]).all():
            # finite rows whose sum overflows, although their mean may not: sum them 2^-64
            # times as large (the rows this drops below 2^-1074 are far below an ULP of E)
            scale = 2.0**64
            total = sum_last_axis((L[0] / scale, L[1] / scale))
        E = _over_n(total, n) * scale
        return h.dtype.type(E if np.isfinite(total[0]) else total[0])


GradOfBlock = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""grad(h, y, n) -> dE/dh^L for a block of rows of float64 h (rows, n_L), n the batch size."""


def _float64_grad(grad: GradOfBlock, h: Array, y: np.ndarray) -> Array:
    """dE/dh^L = grad(h, y, n) computed in float64, a block of rows of about _BLOCK entries at
    a time (the rows are independent), and rounded once to the dtype of h. Shapes: h (n, n_L)
    -> (n, n_L)."""
    n, width = h.shape
    h64, y64 = _in_float64(h), _in_float64(y)
    if h.size <= _BLOCK:
        out = grad(h64, y64, n)
    else:
        out, step = np.empty((n, width)), max(1, _BLOCK // width)
        for start in range(0, n, step):
            rows = slice(start, start + step)
            out[rows] = grad(h64[rows], y64[rows], n)
    return out.astype(h.dtype, copy=False)


def _over_n(a: DoubleDouble, n: int) -> np.ndarray:
    """a / n rounded once."""
    return dd_div_to_double(a, (np.float64(n), np.float64(0.0)))


def _times_n(a: DoubleDouble, n: int) -> DoubleDouble:
    """a n: exact by scaling when n is a power of two (the usual batch sizes), else dd_mul."""
    if n & (n - 1) == 0:
        return a[0] * n, a[1] * n
    return dd_mul(a, (np.float64(n), np.float64(0.0)))


# --- squared_error --------------------------------------------------------------------------


def _squared_error_plain(h: Array, y: np.ndarray) -> Array:
    """L_i = 1/2 sum_k (h_ik - y_ik)^2 (a square, not |.|^2, so complex steps work)."""
    d = h - y
    return (d * d).sum(axis=-1) / 2


_TINY_ROW = 2.0**-900
"""A row sum below this may hold subnormal terms, each rounded to a unit of 2^-1074 on its own:
n_L of them would add up to n_L / 2 units. Such rows are summed again scaled by a power of two
(2^64 per factor), where every term is a normal double, and scaled back with one rounding."""


def _half_sum_of_squares(d: DoubleDouble) -> DoubleDouble:
    """1/2 sum_k d_k^2 over the last axis, d_k = hi + lo: the squares exact, the sum double-double.

    A square overflows where |d_k| > 2^512 (not finite here); _squared_error_rows sums such
    rows again, scaled.
    """
    square, square_err = two_square(d[0])
    square_err += 2 * d[0] * d[1]
    hi, lo = sum_last_axis((square, square_err))
    return 0.5 * hi, 0.5 * lo


def _squared_error_rows(h: np.ndarray, y: np.ndarray) -> DoubleDouble:
    """L_i = 1/2 sum_k (h_ik - y_ik)^2, with h - y exact (see _half_sum_of_squares)."""
    d = two_sum(h, -y)
    L = _half_sum_of_squares(d)
    tiny = L[0] < _TINY_ROW
    if tiny.any():  # (2^64 d)^2 = 2^128 d^2: every square a normal double
        hi, lo = _half_sum_of_squares((d[0][tiny] * 2.0**64, d[1][tiny] * 2.0**64))
        L[0][tiny], L[1][tiny] = (hi + lo) * 2.0**-128, 0.0
    # a square past 2^1024 while 1/2 sum_k d_k^2 may not be (|d_k| up to 2^512.5): such rows
    # are summed again as (2^-64 d)^2 = 2^-128 d^2, and scaled back with one rounding (to inf
    # only where the exact L_i is beyond the largest double); h - y itself infinite stays inf
    huge = ~np.isfinite(L[0]) & np.isfinite(d[0]).all(axis=-1)
    if huge.any():
        hi, lo = _half_sum_of_squares((d[0][huge] * 2.0**-64, d[1][huge] * 2.0**-64))
        hi, lo = finite_or_zero_lo((hi, lo))
        with np.errstate(over="ignore"):
            L[0][huge], L[1][huge] = (hi + lo) * 2.0**128, 0.0
    return L


def _squared_error_grad(h: Array, y: np.ndarray) -> Array:
    """dE/dh^L = (h^L - y) / n: two roundings, each within half an ULP, so within 2 ULP.

    (h - y overflows to inf where |h - y| > 1.8e308, although (h - y) / n may not.)
    """
    return (h - y) / h.shape[0]


# --- cross_entropy (softmax over the logits h^L, integer labels) ----------------------------
# With m = max_k h_k and e_k = exp(h_k - m) (e at the maximum is 1), softmax_k = e_k / T,
# T = sum_k e_k. h_k - m is carried exactly (its rounding would become a relative error of e_k
# as large as |h_k - m| u), T and "others" = T - e_y = sum_{k != y} e_k are double-double sums.
# A row whose label dominates the others by more than ~620 has others < 2^-900, made of terms
# that may be subnormal: there others is recomputed as 2^-64 sum exp(h_k - m + 64 ln 2).

_DEEP_OTHERS = 2.0**-900  # below, others may hold subnormal terms (< 2^-1022) that matter


@dataclass(frozen=True)
class _Softmax:
    """The pieces of one softmax over the last axis of h (..., n, n_L), labels y (n,)."""

    d: DoubleDouble  # h - m exactly, m = max_k h_k, (..., n, n_L)
    e: DoubleDouble  # e_k = exp(h_k - m) for k != y, and 0 at the label, (..., n, n_L)
    e_y: DoubleDouble  # e at the label, (..., n)
    others: DoubleDouble  # sum_{k != y} e_k, (..., n)


def _softmax(h: np.ndarray, y: np.ndarray) -> _Softmax:
    rows = np.arange(h.shape[-2])
    d = two_sum(h, -h.max(axis=-1, keepdims=True))
    e_hi = np.exp(d[0])
    e_lo = e_hi * d[1]  # e^(d_hi + d_lo) = e^d_hi (1 + d_lo), |d_lo| < 2^-44
    if d[0].min() == -np.inf:  # h - m overflowed: e_hi = 0 and d_lo = nan there
        np.copyto(e_lo, 0.0, where=e_hi == 0)
    e_y = (e_hi[..., rows, y], e_lo[..., rows, y])
    e_hi[..., rows, y] = e_lo[..., rows, y] = 0.0
    return _Softmax(d, (e_hi, e_lo), e_y, sum_last_axis((e_hi, e_lo)))


def _deep_others(d: DoubleDouble, y: np.ndarray, deep: np.ndarray) -> np.ndarray:
    """others = sum_{k != y} e^d_k where deep, rounded once: 2^-64 sum_{k != y} e^(d_k + 64 ln 2).

    d = h - m (..., n, n_L), the labels y (n,), deep (..., n). Every d_k is below -620 there,
    so d_hi + SHIFT_HI is exact (both are multiples of 2^-43).
    """
    label = np.broadcast_to(np.arange(d[0].shape[-1]) == y[:, None], d[0].shape)[deep]
    e_hi = np.exp(d[0][deep] + SHIFT_64_LN2[0])
    e_lo = e_hi * (d[1][deep] + SHIFT_64_LN2[1])
    np.copyto(e_lo, 0.0, where=e_hi == 0)
    hi, lo = sum_last_axis((np.where(label, 0.0, e_hi), np.where(label, 0.0, e_lo)))
    return (hi + lo) * 2.0**-64


def _cross_entropy_plain(h: Array, y: np.ndarray) -> Array:
    """L_i = logsumexp(h_i) - h_i,y_i, shifted by the row maximum of Re h."""
    m = h.real.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(h - m).sum(axis=-1))
    return lse - np.take_along_axis(h, np.broadcast_to(y[:, None], (*h.shape[:-1], 1)), -1)[..., 0]


def _cross_entropy_rows(h: np.ndarray, y: np.ndarray) -> DoubleDouble:
    """L_i = logsumexp(h_i) - h_i,y_i = log T + (m - h_y), without cancellation:

    label at the maximum: L_i = log(1 + others) = log1p(others), small when the label
        dominates, so taken from others itself;
    otherwise: L_i = (m - h_y) + log T, two positive terms (m - h_y exact), L_i >= log 2.
    """
    s = _softmax(h, y)
    rows = np.arange(h.shape[-2])
    gap = finite_or_zero_lo((-s.d[0][..., rows, y], -s.d[1][..., rows, y]))  # m - h_y, exactly
    label_is_max = gap[0] == 0
    o_hi, o_lo = s.others
    T = dd_add(s.others, s.e_y)
    below_max = dd_add(gap, (np.log(T[0]), T[1] / T[0]))
    hi = np.where(label_is_max, np.log1p(o_hi), below_max[0])
    lo = np.where(label_is_max, o_lo / (1 + o_hi), below_max[1])
    deep = label_is_max & (o_hi < _DEEP_OTHERS) & (h.shape[-1] > 1)
    if deep.any():  # log1p(others) = others to 2^-900 there
        hi[deep], lo[deep] = _deep_others(s.d, y, deep), 0.0
    return hi, lo


def _cross_entropy_grad(h: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """dE/dh^L = (softmax(h^L) - onehot(y)) / n = N / (T n), rounded once, with

        N_k = e_k (k != y),   N_y = e_y - T = -others,

    so that softmax - 1 at the label keeps its relative accuracy when the label's probability
    is close to 1. N and T n are double-doubles: what is left is exp's error in the e_k.
    """
    rows = np.arange(h.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        s = _softmax(h, y)
        Tn = _times_n(dd_add(s.others, s.e_y), n)
        N = s.e
        N[0][rows, y], N[1][rows, y] = -s.others[0], -s.others[1]
        grad = dd_div_to_double(N, (Tn[0][:, None], Tn[1][:, None]))
        if h.shape[1] > 1 and s.others[0].min() < _DEEP_OTHERS:  # T = 1 to 2^-900 there
            deep = s.others[0] < _DEEP_OTHERS
            grad[rows[deep], y[deep]] = -_deep_others(s.d, y, deep) / n
    return grad


def _check_labels(y: np.ndarray, n: int, width: int) -> None:
    if y.shape != (n,):
        raise ValueError(
            f"y has shape {y.shape}, but should be ({n},): one integer label per row of x "
            "for cross_entropy"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"y has dtype {y.dtype}, but cross_entropy needs integer labels in [0, {width}); "
            "convert with y.astype(int) if they are whole numbers"
        )
    bad = np.flatnonzero((y < 0) | (y >= width))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"y[{i}] = {y[i]}, but cross_entropy labels should lie in [0, {width}), "
            f"one per output neuron of h^L ({bad.size} labels out of range)"
        )


# --- binary_cross_entropy (independent sigmoids over the logits h^L) ------------------------


def _binary_cross_entropy_plain(h: Array, y: np.ndarray) -> Array:
    """L_i = sum_k (softplus(h_ik) - y_ik h_ik)."""
    return (softplus(h) - y * h).sum(axis=-1)


_WIDE = 2.0**990  # beyond, split() in two_prod would overflow: scale by 2^-64 first


def _binary_cross_entropy_terms(h: np.ndarray, y: np.ndarray, scaled: bool) -> DoubleDouble:
    """softplus(h) - y h = w |h| + log1p(e^-|h|) in double-double, w = 1 - y for h >= 0 and
    w = y for h < 0: two terms >= 0, nothing cancels. Times 2^64 if `scaled`, for the rows
    below _TINY_ROW: there |h| > 620, so log1p(e^-|h|) = e^-|h| to 2^-900, carried as
    exp(64 ln 2 - |h|) (|h| - SHIFT_HI is exact: both are multiples of 2^-43).
    """
    a = np.abs(h)
    w = two_sum(np.where(h >= 0, 1.0, 0.0), np.where(h >= 0, -y, y))  # 1 - y or y, exactly
    wide = a > _WIDE
    a_scaled = np.where(wide, a * 2.0**-64, a)
    scale = np.where(wide, 2.0**64, 1.0)
    if scaled:
        w = (w[0] * 2.0**64, w[1] * 2.0**64)  # exact, also for a subnormal y
    p, p_err = two_prod(w[0], a_scaled)
    p_err += w[1] * a_scaled
    if scaled:
        e = np.exp(SHIFT_64_LN2[0] - a)
        log_term = (e, e * SHIFT_64_LN2[1])
    else:
        log_term = (np.log1p(np.exp(-a)), np.zeros_like(a))
    return dd_add((p * scale, p_err * scale), log_term)


def _binary_cross_entropy_rows(h: np.ndarray, y: np.ndarray) -> DoubleDouble:
    """L_i = sum_k softplus(h_k) - y_k h_k (see _binary_cross_entropy_terms).

    (softplus(h) - y h would cancel for large h with y near 1.) w |h| is a double-double
    (1 - y is exact as one), log1p(e^-|h|) carries exp's and log1p's errors.
    """
    L = sum_last_axis(_binary_cross_entropy_terms(h, y, scaled=False))
    tiny = L[0] < _TINY_ROW
    if tiny.any():
        y_tiny = np.broadcast_to(y, h.shape)[tiny]
        hi, lo = sum_last_axis(_binary_cross_entropy_terms(h[tiny], y_tiny, scaled=True))
        L[0][tiny], L[1][tiny] = (hi + lo) * 2.0**-64, 0.0
    return L


def _sigmoid_minus_binary(h: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """(sigma(h) - y) / n for y in {0, 1}, with E = e^-|h|:

        y = 0, h < 0:  E / (1 + E)        y = 0, h >= 0:   1 / (1 + E)
        y = 1, h >= 0: -E / (1 + E)       y = 1, h < 0:   -1 / (1 + E)

    (so sigma(176) - 1 is -3e-77, not 0). The quotient is rounded once from a double-double
    denominator (1 + E) n: what is left is exp's error, damped by 1 / (1 + E) <= 1.
    """
    E = np.exp(-np.abs(h))
    numerator = np.where((h < 0) == (y == 0), E, 1.0) * (1 - 2 * y)  # 1 - 2y = +-1 exactly
    denominator = _times_n(one_plus((E, 0.0)), n)
    return dd_div_to_double((numerator, 0.0), denominator)


def _sigmoid_minus_fraction(h: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """(sigma(h) - y) / n for any y in [0, 1], with p = sigma(-|h|) = E / (1 + E) from
    E = exp_dd(-|h|):

        h < 0:  (p - y) / n,        h >= 0:  -(p - (1 - y)) / n,

    with 1 - y exact and p - c a double-double difference, so that sigma(h) near y cancels
    exactly. The difference is off by at most about 2 EXP_DD_RTOL max(p, c); where that could
    exceed FALLBACK_RTOL of it, the decimal module decides.
    """
    E = exp_dd(-np.abs(h))
    p = dd_div(E, one_plus(E))
    negative = h < 0
    c = two_sum(np.where(negative, 0.0, 1.0), np.where(negative, y, -y))  # y or 1 - y
    r = dd_add(p, (-c[0], -c[1]))
    sign = np.where(negative, 1.0, -1.0)
    result = _over_n((sign * r[0], sign * r[1]), n)
    allowed = 2 * EXP_DD_RTOL * np.maximum(p[0], np.abs(c[0])) + 2.0**-1073  # subnormal e
    for i in np.flatnonzero(~(FALLBACK_RTOL * np.abs(r[0]) >= allowed)):
        result[i] = exact_sigmoid_minus(float(h[i]), float(y[i]), n)
    return result


def _binary_cross_entropy_grad(h: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """dE/dh^L = (sigma(h^L) - y) / n: targets 0 and 1 cheaply, the others (in (0, 1)) with
    sigma in double-double (see _sigmoid_minus_fraction)."""
    fraction = (y != 0) & (y != 1)
    with np.errstate(over="ignore", invalid="ignore"):
        grad = _sigmoid_minus_binary(h, np.where(fraction, 0.0, y), n)
        if fraction.any():
            grad[fraction] = _sigmoid_minus_fraction(h[fraction], y[fraction], n)
    return grad


def _check_float_targets(y: np.ndarray, n: int, width: int, loss: str) -> None:
    if y.shape != (n, width):
        raise ValueError(
            f"y has shape {y.shape}, but should be ({n}, {width}) to match h^L "
            f"({n} rows of x, n_L = {width}) for {loss}"
        )
    if y.dtype.kind not in "fiu":
        raise TypeError(f"y has dtype {y.dtype}, but {loss} needs real numbers")


def _check_regression_targets(y: np.ndarray, n: int, width: int) -> None:
    _check_float_targets(y, n, width, "squared_error")


def _check_probabilities(y: np.ndarray, n: int, width: int) -> None:
    _check_float_targets(y, n, width, "binary_cross_entropy")
    bad = np.argwhere((y < 0) | (y > 1))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"y{list(where)} = {y[where]}, but binary_cross_entropy targets should lie in "
            f"[0, 1] ({len(bad)} out of range)"
        )


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "squared_error",
            partial(_per_example, _squared_error_rows, _squared_error_plain),
            partial(_value, _squared_error_rows, _squared_error_plain),
            _squared_error_grad,
            _check_regression_targets,
            "float (n, n_L)",
            _squared_error_plain,
        ),
        Loss(
            "cross_entropy",
            partial(_per_example, _cross_entropy_rows, _cross_entropy_plain),
            partial(_value, _cross_entropy_rows, _cross_entropy_plain),
            partial(_float64_grad, _cross_entropy_grad),
            _check_labels,
            "integer labels (n,) in [0, n_L)",
            _cross_entropy_plain,
        ),
        Loss(
            "binary_cross_entropy",
            partial(_per_example, _binary_cross_entropy_rows, _binary_cross_entropy_plain),
            partial(_value, _binary_cross_entropy_rows, _binary_cross_entropy_plain),
            partial(_float64_grad, _binary_cross_entropy_grad),
            _check_probabilities,
            "float (n, n_L) in [0, 1]",
            _binary_cross_entropy_plain,
        ),
    )
}
"""Each loss name of docs/contract.md, section 3, mapped to its E and dE/dh^L."""
