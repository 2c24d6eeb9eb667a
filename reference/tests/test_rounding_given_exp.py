"""What the losses' gradients, E and gelu_tanh leave to exp alone: given numpy's exp values,
the rest is exact and rounded once, as their docstrings say ("N and T n are double-doubles:
what is left is exp's error in the e_k"; "what is left is exp's error, damped by 1 / (1 + E)";
"numerator and denominator in double-double, rounded once"). Each result is checked, bit for
bit, against exact arithmetic (fractions, or mpmath at 50 digits) on those exp values.

A double-double carries ~2^-104 relative error, so a result may differ from the correctly
rounded one only where the exact quotient lies within ~2^-100 of a midpoint between two
doubles: for the random inputs here that has probability ~2^-47 per entry."""

from fractions import Fraction

import numpy as np
import pytest
from mpmath import mp, mpf

import reference
from reference.tests import exact

# batch sizes: powers of two (T n scaled exactly) and others (T n a double-double product)
BATCH_SIZES = [3, 4, 5, 6, 7, 8, 12]


def _exactly_rounded(numerator: Fraction, denominator: Fraction) -> float:
    return float(numerator / denominator)  # Fraction -> float rounds to nearest, ties to even


@pytest.mark.parametrize("n", BATCH_SIZES)
def test_cross_entropy_gradient_is_e_k_over_T_n_rounded_once(n: int) -> None:
    """dE/dh^L_ik = (softmax_k - [k = y_i]) / n = N_k / (T n) with N_k = e_k (k != y),
    N_y = -(T - e_y), T = sum_k e_k, e_k = exp(h_k - m): correctly rounded from numpy's e_k.
    The logits are multiples of 2^-30 in (-8, 8), so that h_k - m is exact."""
    rng = np.random.default_rng(100 + n)
    n_L = 5
    h = np.round(rng.uniform(-8, 8, (n, n_L)) * 2**30) / 2**30
    y = rng.integers(0, n_L, n)
    grad = reference.LOSSES["cross_entropy"].grad(h, y)
    wrong = []
    for i in range(n):
        e = [Fraction(float(np.exp(h[i, k] - h[i].max()))) for k in range(n_L)]
        T = sum(e)
        for k in range(n_L):
            N = -(T - e[k]) if k == y[i] else e[k]
            expected = _exactly_rounded(N, T * n)
            if grad[i, k] != expected:
                wrong.append((i, k, grad[i, k], expected))
    assert not wrong, f"n = {n}: (row, k, grad, correctly rounded) {wrong[:3]} of {len(wrong)}"


@pytest.mark.parametrize("n", BATCH_SIZES)
def test_binary_cross_entropy_gradient_of_0_1_targets_is_rounded_once_given_exp(n: int) -> None:
    """(sigma(h) - y) / n for y in {0, 1} is +-E / ((1 + E) n) or +-1 / ((1 + E) n), E =
    exp(-|h|): correctly rounded from numpy's E."""
    rng = np.random.default_rng(200 + n)
    h = rng.uniform(-6, 6, (n, 6))
    y = rng.integers(0, 2, h.shape).astype(np.float64)
    grad = reference.LOSSES["binary_cross_entropy"].grad(h, y)
    wrong = []
    for (i, k), h_ik in np.ndenumerate(h):
        E = Fraction(float(np.exp(-abs(h_ik))))
        small = (h_ik < 0) == (y[i, k] == 0)  # sigma(h) - y = +-E / (1 + E)
        N = (E if small else Fraction(1)) * (1 - 2 * int(y[i, k]))
        expected = _exactly_rounded(N, (1 + E) * n)
        if grad[i, k] != expected:
            wrong.append((i, k, grad[i, k], expected))
    assert not wrong, f"n = {n}: (row, k, grad, correctly rounded) {wrong[:3]} of {len(wrong)}"


def test_squared_error_E_of_rows_whose_sum_overflows_is_correctly_rounded() -> None:
    """E = (1/n) sum_i L_i with L_i = h_i^2 / 2 ~ 0.7e308 (n_L = 1, y = 0): the sum of the rows
    overflows, their mean does not. The rows are exact double-doubles (an exact square) and are
    summed scaled by a power of two, so E is the exact mean rounded once: no exp involved."""
    rng = np.random.default_rng(300)
    wrong = []
    for n in (3, 4, 5, 7):
        for _ in range(40):
            h = rng.uniform(1.1e154, 1.3e154, (n, 1))
            mean = reference.LOSSES["squared_error"].value(h, np.zeros_like(h))
            expected = _exactly_rounded(sum(Fraction(float(a)) ** 2 for a in h[:, 0]), 2 * n)
            if mean != expected:
                wrong.append((n, mean, expected))
    assert not wrong, f"(n, E, correctly rounded) {wrong[:3]} of {len(wrong)} of 160 batches"


def test_gelu_tanh_of_positive_z_is_z_over_1_plus_e_rounded_once_given_exp() -> None:
    """phi(z) = z / (1 + e), e = e^-v, for v = C z + A z^3 >= 0 (z >= 0), with v carried in
    double-double and e = exp(-v_hi) e^-(v - v_hi) (v_hi = v rounded to a double): given
    numpy's exp(-v_hi), phi is the exact quotient rounded once (mpmath at 50 digits)."""
    rng = np.random.default_rng(400)
    z = np.concatenate([rng.uniform(0, 0.7, 1000), rng.uniform(0.7, 4, 1000)])
    phi = reference.ACTIVATIONS["gelu_tanh"].phi(z)
    wrong = []
    with mp.workdps(50):
        C, A = exact.gelu_constants()
        for z_i, phi_i in zip(z.tolist(), phi.tolist(), strict=True):
            v = C * z_i + A * mpf(z_i) ** 3
            v_hi = float(v)
            e = mpf(float(np.exp(-v_hi))) * mp.exp(v_hi - v)
            expected = float(z_i / (1 + e))
            if phi_i != expected:
                wrong.append((z_i, phi_i, expected))
    assert not wrong, f"(z, phi, correctly rounded) {wrong[:3]} of {len(wrong)} of {z.size}"
