"""Every activation of the reference has its rounding record in the tolerance policy, with a
curvature at its kink exactly where it has a kink."""

import numpy as np
import pytest

from reference import ACTIVATIONS
from verification.oracles.precision import FLOAT64
from verification.oracles.rounding import ROUNDING


def test_every_activation_has_a_rounding_record_and_no_record_is_left_over() -> None:
    assert set(ROUNDING) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", tuple(ACTIVATIONS))
def test_curvatures_at_the_kink_are_given_exactly_for_kinked_activations(name: str) -> None:
    assert (ROUNDING[name].curvatures_at_kink is None) == (ACTIVATIONS[name].kink is None)


@pytest.mark.parametrize("name", tuple(ACTIVATIONS))
def test_every_term_is_finite_and_non_negative_from_0_to_the_largest_float(name: str) -> None:
    record = ROUNDING[name]
    z = np.array([-1e308, -700.0, -20.0, -1.0, 0.0, 1.0, 20.0, 700.0, 1e308])
    with np.errstate(over="ignore"):
        for what, values in (
            ("curvature", record.curvature(z)),
            ("value_terms", record.value_terms(z)),
            ("slope_terms", record.slope_terms(z, FLOAT64)),
            ("complex_step_ulps", np.broadcast_to(record.complex_step_ulps(z), z.shape)),
            ("reference_ulps", np.broadcast_to(record.reference_ulps(z), z.shape)),
        ):
            assert np.all(np.isfinite(values) & (values >= 0)), f"{name}: {what} = {values}"


# --- the reference's own phi, as accurate as reference_ulps says ------------------------------

mpmath = pytest.importorskip("mpmath")
_K0, _K1 = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf(0.044715)
EXACT_PHI = {
    "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
    "tanh": mpmath.tanh,
    "softplus": lambda t: mpmath.log1p(mpmath.exp(t)),
    "elu": lambda t: t if t > 0 else mpmath.expm1(t),
    # z sigma(v), v = 2 K0 (z + K1 z^3): no cancellation in the tails, unlike z (1 + tanh w) / 2
    "gelu_tanh": lambda t: t / (1 + mpmath.exp(-2 * _K0 * (t + _K1 * t**3))),
}
PHI_GRID = np.concatenate(
    [s * np.random.default_rng(5).standard_normal(150) for s in (1e-6, 0.1, 1, 3, 10, 30, 300)]
)


def ulps_off(phi, name: str) -> np.ndarray:
    """|phi(z) - exact| in ULPs of the exact value, on PHI_GRID (mpmath at 80 digits)."""
    got = phi(PHI_GRID)
    with mpmath.workdps(80):
        exact = [EXACT_PHI[name](mpmath.mpf(float(t))) for t in PHI_GRID]
        return np.array(
            [
                float(abs(mpmath.mpf(float(g)) - e)) / np.spacing(max(abs(float(e)), 2.0**-1022))
                for g, e in zip(got, exact, strict=True)
            ]
        )


@pytest.mark.parametrize("name", sorted(EXACT_PHI))
def test_the_reference_phi_is_within_reference_ulps_of_mpmath(name: str) -> None:
    """finite_differences bounds the rounding noise of each phi evaluation by these ULPs."""
    off = ulps_off(ACTIVATIONS[name].phi, name)
    bound = np.broadcast_to(ROUNDING[name].reference_ulps(PHI_GRID), PHI_GRID.shape)
    worst = int(np.argmax(off / bound))
    assert (off <= bound).all(), f"{name}: {off[worst]:.3g} ULP at z = {PHI_GRID[worst]!r}"


def test_the_ulp_check_reports_a_tanh_through_exp_near_0() -> None:
    """The planted inaccuracy: 2 / (1 + e^-2z) - 1 is off by ULPs of 1 where tanh z is tiny."""
    with np.errstate(over="ignore"):
        off = ulps_off(lambda z: 2 / (1 + np.exp(-2 * z)) - 1, "tanh")
    assert off.max() > 1e3 * float(ROUNDING["tanh"].reference_ulps(PHI_GRID))
