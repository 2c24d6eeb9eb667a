"""Which entries take the slower, more accurate routes: exp_dd for gelu_tanh' where exp's error
in e would be amplified past _GELU_AMPLIFICATION, and the decimal module for sigma(h) - y where
the double-double error bound could exceed FALLBACK_RTOL of the result. Each route is checked
against the bound it is documented to follow, computed here independently (mpmath), not by
the reference's own formula."""

import numpy as np
import pytest
from mpmath import mp, mpf

import reference
import reference.activations
import reference.losses
from reference.decimal_fallback import FALLBACK_RTOL
from reference.double_double import EXP_DD_RTOL
from reference.tests import exact

# The amplification is computed by the reference in float64 from e and w, each within a few
# ULP: points whose exact amplification is within 1e-9 of the threshold may go either way.
ROUTE_MARGIN = 1e-9


def _exact_amplification(z: float) -> float:
    """|1 + 2e + w| / |1 + e + w| with e = e^v, w = z v'(z) = C z + 3 A z^3, v = C z + A z^3."""
    with mp.workdps(40):
        C, A = exact.gelu_constants()
        x = mpf(z)
        v, w = C * x + A * x**3, C * x + 3 * A * x**3
        e = mp.exp(-abs(v))
        return float(abs(1 + 2 * e + w) / abs(1 + e + w))


def test_gelu_tanh_slope_takes_exp_dd_exactly_where_exps_error_would_be_amplified_past_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Near the zero of phi' (z0 = -0.752...), an error in e reaches phi' times |1 + 2e + w| /
    |1 + e + w|: exp_dd recomputes e exactly where that exceeds _GELU_AMPLIFICATION = 2 for
    v < 0 (about 0.06 either side of z0), and nowhere else (it costs about 10 exps)."""
    routed: list[np.ndarray] = []
    original = reference.activations._dgelu_near_its_zero

    def recorded(z: np.ndarray, *args: object) -> np.ndarray:
        routed.append(np.array(z))
        return original(z, *args)

    monkeypatch.setattr(reference.activations, "_dgelu_near_its_zero", recorded)
    z = np.linspace(-3.0, 1.0, 4001)
    reference.ACTIVATIONS["gelu_tanh"].dphi(z)
    taken = set(np.concatenate(routed).tolist()) if routed else set()
    limit = reference.activations._GELU_AMPLIFICATION
    wrong = []
    for point in z.tolist():
        amplification = _exact_amplification(point)
        if abs(amplification / limit - 1) <= ROUTE_MARGIN:
            continue
        should = point < 0 and amplification > limit
        if should != (point in taken):
            wrong.append((point, amplification, point in taken))
    assert not wrong, (
        f"{len(wrong)} of {z.size} points routed against their exact amplification "
        f"(z, amplification, took exp_dd): {wrong[:4]}"
    )


def _sigma(h: float) -> mpf:
    with mp.workdps(60):
        return exact.sigma(mpf(h))


def _decided(monkeypatch: pytest.MonkeyPatch, h: list[float], y: list[float]) -> list[float]:
    """The h whose sigma(h) - y the decimal module decided, in one grad of one row."""
    asked: list[float] = []
    original = reference.losses.exact_sigmoid_minus

    def recorded(h_i: float, y_i: float, n: int) -> float:
        asked.append(h_i)
        return original(h_i, y_i, n)

    monkeypatch.setattr(reference.losses, "exact_sigmoid_minus", recorded)
    reference.LOSSES["binary_cross_entropy"].grad(np.array([h]), np.array([y]))
    return asked


def test_sigma_minus_y_asks_the_decimal_module_where_exp_dds_subnormal_error_could_decide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """exp_dd is within EXP_DD_RTOL e^x + 2^-1074 (its low part is subnormal below e^x <
    2^-968): where sigma(h) ~ 2^-1017 and |sigma(h) - y| = 2^-1019, FALLBACK_RTOL of the
    difference is 2^-1074, which that absolute error could exceed: the decimal module must
    decide. (Where |sigma(h) - y| = 2^-1000 it need not.)"""
    h = [-705.0, -708.0, -705.0, -708.0]
    gaps = [2.0**-1019, -(2.0**-1019), 2.0**-1000, -(2.0**-1000)]
    with mp.workdps(60):
        y = [float(_sigma(a) - g) for a, g in zip(h, gaps, strict=True)]
    asked = _decided(monkeypatch, h, y)
    assert asked == h[:2], (
        f"the decimal module decided h = {asked}, but should decide the first two entries of "
        f"{h} (|sigma(h) - y| = 2^-1019) and not the last two (2^-1000)"
    )


def test_sigma_minus_y_leaves_the_decimal_module_alone_just_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The double-double sigma(h) - y is within 2 EXP_DD_RTOL max(sigma, c) (c = y or 1 - y):
    where |sigma(h) - y| is 1.25 times what FALLBACK_RTOL needs, 2^-36 max(sigma, c), the
    decimal module is not asked; at 0.75 times it, it is."""
    h = [-3.0, 2.5, -0.5, 7.0, -3.0, 2.5]
    factor = [1.25, 1.25, -1.25, -1.25, 0.75, -0.75]
    y = []
    with mp.workdps(60):
        for a, f in zip(h, factor, strict=True):
            sigma = _sigma(a)
            bound = 2 * EXP_DD_RTOL / FALLBACK_RTOL  # 2^-36
            # the target c = y (h < 0) or 1 - y (h >= 0) against p = sigma(-|h|)
            p = sigma if a < 0 else 1 - sigma
            c = p * (1 - f * bound) if f > 0 else p * (1 + abs(f) * bound)
            y.append(float(c if a < 0 else 1 - c))
    asked = _decided(monkeypatch, h, y)
    assert asked == h[4:], (
        f"the decimal module decided h = {asked}, but should decide only the last two of {h} "
        "(0.75 times the bound), not those at 1.25 times it"
    )
