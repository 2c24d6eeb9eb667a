"""Each activation's record states the facts the rest of the project asks about it, and each
stated fact holds of its phi and dphi (so a new activation cannot be added with a wrong or a
missing fact: the record has no defaults, and these tests check every value)."""

import dataclasses

import numpy as np
import pytest

from reference import ACTIVATIONS, Activation

NAMES = tuple(ACTIVATIONS)

KINK_CONVENTIONS = {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0}
"""phi'(0) at the kink, as docs/contract.md (section 2) states it: PyTorch's convention."""


def test_every_fact_is_a_required_field_of_the_record() -> None:
    facts = {f.name for f in dataclasses.fields(Activation)} - {"name", "phi", "dphi"}
    assert facts == {"kink", "slopes_at_kink", "saturates", "unbounded", "exact_on_dyadic"}
    for f in dataclasses.fields(Activation):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f


def test_a_kink_without_its_slopes_is_refused_naming_the_activation() -> None:
    with pytest.raises(ValueError, match=r"activation bent: kink = 0\.0"):
        dataclasses.replace(ACTIVATIONS["relu"], name="bent", slopes_at_kink=None)


@pytest.mark.parametrize("name", NAMES)
def test_kink_and_its_one_sided_slopes_hold_of_dphi(name: str) -> None:
    a = ACTIVATIONS[name]
    if a.kink is None:
        assert name not in KINK_CONVENTIONS
        return
    left, right = a.slopes_at_kink
    z = np.array([a.kink - 1e-9, a.kink + 1e-9, a.kink])
    slopes = a.dphi(z)
    assert slopes[0] == pytest.approx(left, abs=1e-8), name
    assert slopes[1] == pytest.approx(right, abs=1e-8), name
    assert slopes[2] == KINK_CONVENTIONS[name], f"{name}'({a.kink}) = {slopes[2]}"


@pytest.mark.parametrize("name", NAMES)
def test_saturates_means_dphi_tends_to_0_without_reaching_it_in_a_tail(name: str) -> None:
    a = ACTIVATIONS[name]
    tail = np.array([-30.0, -10.0, 10.0, 30.0])
    slopes = np.abs(a.dphi(tail))
    vanishing = (slopes > 0) & (slopes < 1e-12)
    assert bool(vanishing.any()) == a.saturates, f"{name}: |phi'| at {tail} = {slopes}"


@pytest.mark.parametrize("name", NAMES)
def test_unbounded_means_phi_grows_like_z(name: str) -> None:
    a = ACTIVATIONS[name]
    assert bool(a.phi(np.array([1e6]))[0] > 1e5) == a.unbounded, name


@pytest.mark.parametrize("name", NAMES)
def test_exact_on_dyadic_means_multiples_of_a_half_stay_multiples_of_a_half(name: str) -> None:
    a = ACTIVATIONS[name]
    z = np.arange(-8, 9) / 2.0
    h = a.phi(z)
    assert bool(np.all(h * 2 == np.round(h * 2))) == a.exact_on_dyadic, f"{name}: {h}"
