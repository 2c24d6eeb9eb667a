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
            ("reference_ulps", np.broadcast_to(record.reference_ulps(z), z.shape)),
        ):
            assert np.all(np.isfinite(values) & (values >= 0)), f"{name}: {what} = {values}"
