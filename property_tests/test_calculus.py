"""Calculus: the gradient is the derivative of E.

- Directional derivative: (E(theta + eps v) - E(theta - eps v)) / 2 eps -> <grad E, v>.
- Gradient descent: a step theta - alpha grad E with alpha small enough lowers E whenever the
  gradient is not zero, by about alpha |grad E|^2.

Both need E smooth along the segment, so segments on which a relu, leaky_relu or elu unit
changes side of its kink (or starts on it) are left out.
"""

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

import reference
from property_tests.implementations import REFERENCE, Implementation
from property_tests.rounding import assert_within, error_allowance, u
from property_tests.theta import along, inner, magnitude_inner, parameter_count
from reference import Params
from verification.cases import Case
from verification.cases.strategies import cases, parameters
from verification.oracles.precision import gamma
from verification.oracles.tolerance import allowance, error_bounds

EPS = float(np.finfo(np.float64).eps)

STEP = EPS ** (1 / 3)
"""eps of the central difference along v, whose entries are at most 1 (so eps is a step of at
most eps in every parameter; a step relative to the largest parameter would move the logits of
a network with large weights across the bend of the loss). D(eps) has truncation error
eps^2 |E'''| / 6 and rounding error about A_E / eps (A_E: the rounding allowance of E); their
sum is smallest near eps ~ (A_E / |E'''|)^(1/3), i.e. eps^(1/3) ~ 6e-6 on the scale of v."""

RICHARDSON = 3
"""The truncation error of D(eps/2) is c eps^2 / 4 + O(eps^4), and D(eps) - D(eps/2) = 3 c eps^2
/ 4 + O(eps^4): |D(eps) - D(eps/2)| / 3 estimates it. The allowance takes 3 times that
estimate, i.e. |D(eps) - D(eps/2)| itself, which stays a bound while the neglected O(eps^4)
terms are below twice the leading one (at eps ~ 6e-6 of the parameters' scale, unless E''''' is
10^10 times E''' in those units)."""

LINEARITY_SHARE = 1 / 8
"""alpha is 'small enough' when E is nearly linear along the step, judged from E alone: the
decrease d(alpha) = E(theta) - E(theta - alpha g) = alpha |g|^2 - alpha^2 q / 2 + O(alpha^3)
(q = g^T H g) must agree with 2 d(alpha / 2) within d(alpha) / 8, and d(alpha / 2) with
2 d(alpha / 4) likewise (two halvings, so that one coincidence cannot pass). Their difference is
-alpha^2 q / 4 + O(alpha^3), half the second-order term of d(alpha): that term is then below
d(alpha) / 4."""

DESCENT_SLACK = 1 / 2
"""'About alpha |g|^2': the decrease must lie within half of it. LINEARITY_SHARE leaves the
second-order term below a quarter, MEASURABLE keeps rounding below 1/32, and the remaining
share covers the third-order terms that the halving test sees only in part."""

MEASURABLE = 32
"""alpha |g|^2 must exceed 32 times the rounding allowances of the two values of E compared."""

SPARE_BITS = 10
"""The first alpha tried makes alpha |g|^2 about 2^10 times what MEASURABLE requires: small
enough for the terms beyond the linear one to be negligible unless E bends within a step of
that size, yet large enough to leave room for halvings if it does."""

MAX_MOVE = 2.0**-10
"""A step is small only if it moves no parameter by more than 2^-10 max(1, max |theta|): where
the gradient is so small that only a larger move would change E measurably (a saturated
network), no alpha is small enough and the case is left out."""

HALVINGS = 10  # the steps tried: alpha_0 2^-k, k = 0..10


def changes_side_of_a_kink(case: Case, v: Params, ts: tuple[float, ...]) -> bool:
    """True if some relu-like unit (reference's forward pass) is at its kink, may be on either
    side of it within rounding, or is on different sides at theta + t v for the t in `ts`."""
    arch = case.arch
    kinked = [l for l in range(1, arch.L + 1) if arch.activation(l).kink is not None]
    if not kinked:
        return False
    bounds = error_bounds(arch, case.params, case.x, case.y)
    z0 = reference.forward(arch, case.params, case.x).z
    for l in kinked:
        if np.any(z0[l] == 0) or np.any(bounds.ambiguous[l]):
            return True
    for t in ts:
        z = reference.forward(arch, along(case.params, v, t), case.x).z
        if any(np.any(np.sign(z[l]) != np.sign(z0[l])) for l in kinked):
            return True
    return False


def check_directional_derivative(impl: Implementation, case: Case, v: Params) -> None:
    """(E(theta + eps v) - E(theta - eps v)) / 2 eps matches <grad E, v>."""
    arch, x, y = case.arch, case.x, case.y
    eps = STEP
    grads = impl.gradients(arch, case.params, x, y)

    def E(t: float) -> float:
        return float(impl.error(arch, along(case.params, v, t), x, y))

    def rounding_of_E(t: float) -> float:
        # E's own rounding, plus theta + t v rounded: |d theta| <= u |theta + t v|
        params = along(case.params, v, t)
        return error_allowance(arch, params, x, y) + u * magnitude_inner(grads, params)

    D1 = (E(eps) - E(-eps)) / (2 * eps)
    D2 = (E(eps / 2) - E(-eps / 2)) / eps
    r1 = (rounding_of_E(eps) + rounding_of_E(-eps)) / (2 * eps) + u * abs(D1)
    r2 = (rounding_of_E(eps / 2) + rounding_of_E(-eps / 2)) / eps + u * abs(D2)
    slope = inner(grads, v)
    slope_allowed = magnitude_inner(allowance(arch, case.params, x, y), v) + gamma(
        parameter_count(v), u
    ) * magnitude_inner(grads, v)
    allowed = RICHARDSON / 3 * abs(D1 - D2) + 2 * (r1 + r2) + slope_allowed
    assert_within(
        f"<grad E, v> against the central difference at eps = {eps:.3g}", slope, D2, allowed
    )


def descent_rate(case: Case) -> float | None:
    """The largest alpha = 2^-k (k = 0..HALVINGS) that is small enough for the reference's E
    and gradient (LINEARITY_SHARE, MEASURABLE, no kink changes side), or None if none is."""
    arch, x, y = case.arch, case.x, case.y
    g = reference.gradients(arch, case.params, x, y)
    g2 = inner(g, g)
    if g2 == 0:
        return None
    E0 = float(reference.error(arch, case.params, x, y))
    A0 = error_allowance(arch, case.params, x, y)
    # the smallest step whose decrease is measurable with SPARE_BITS to spare: the smaller the
    # step, the smaller the terms of second and higher order beside the linear one
    with np.errstate(divide="ignore", over="ignore"):
        alpha_0 = 2.0 ** np.ceil(np.log2(2**SPARE_BITS * MEASURABLE * 2 * A0 / g2))
    if not 0 < alpha_0 < np.inf:
        return None  # E exact (A0 = 0), or |g|^2 so small beside A0 that nothing is measurable
    g_max = max(float(np.abs(a).max(initial=0)) for layer in g for a in layer)
    theta_max = max(1.0, *(float(np.abs(a).max(initial=0)) for layer in case.params for a in layer))
    for k in range(HALVINGS + 1):
        alpha = alpha_0 * 2.0**-k
        linear = alpha * g2
        d = [
            E0 - float(reference.error(arch, along(case.params, g, -alpha / 2**i), x, y))
            for i in range(3)
        ]  # d(alpha), d(alpha / 2), d(alpha / 4)
        if d[0] == 0 or not all(
            abs(d[i] - 2 * d[i + 1]) <= LINEARITY_SHARE * abs(d[i]) for i in range(2)
        ):
            continue
        if alpha * g_max > MAX_MOVE * theta_max:
            return None  # only a large move of the parameters would be measurable
        A1 = error_allowance(arch, along(case.params, g, -alpha), x, y)
        if linear < MEASURABLE * (A0 + A1):
            return None  # smaller steps only make it less measurable
        ts = (-alpha, -alpha / 2, alpha / 2, alpha)
        return None if changes_side_of_a_kink(case, g, ts) else alpha
    return None


def check_descent_step_lowers_error(impl: Implementation, case: Case, alpha: float) -> None:
    """E(theta - alpha grad E) < E(theta), lower by about alpha |grad E|^2."""
    arch, x, y = case.arch, case.x, case.y
    grads = impl.gradients(arch, case.params, x, y)
    new = impl.step(case.params, grads, alpha)
    E0, E1 = float(impl.error(arch, case.params, x, y)), float(impl.error(arch, new, x, y))
    rounding = error_allowance(arch, case.params, x, y) + error_allowance(arch, new, x, y)
    linear = alpha * inner(grads, grads)
    decrease = E0 - E1
    if not decrease > rounding:
        raise AssertionError(
            f"E after a step of alpha = {alpha:.3g} = {E1:.17g}, but should be below "
            f"E = {E0:.17g} (by about alpha |grad E|^2 = {linear:.3g})"
        )
    assert_within(
        f"the decrease of E in a step of alpha = {alpha:.3g}",
        decrease,
        linear,
        DESCENT_SLACK * linear + rounding,
    )


DESCENT_CASES = cases(
    max_depth=3,
    max_width=4,
    max_batch=4,
    # large_logits left out: with logits of 1e3 to 1e6, any step large enough to measure moves
    # them across the bend of softmax or softplus, so no alpha is both measurable and small
    regimes=("plain", "saturated", "zero_inputs", "tiny_gradients"),
)
SMOOTH_SEGMENT_CASES = cases(
    max_depth=3,
    max_width=4,
    max_batch=4,
    regimes=("plain", "saturated", "zero_inputs", "large_logits", "tiny_gradients"),
)


@st.composite
def directions(draw: st.DrawFn) -> tuple[Case, Params, bool]:
    """A case, a direction v with entries in [-1, 1] (not all zero), and whether a kink changes
    side on the segment of the central difference."""
    case = draw(SMOOTH_SEGMENT_CASES, label="case")
    v = draw(parameters(case.arch, max_magnitude=1.0).filter(lambda v: inner(v, v) > 0), label="v")
    eps = STEP
    return case, v, changes_side_of_a_kink(case, v, (-eps, -eps / 2, eps / 2, eps))


def smooth_directions():
    return directions().filter(lambda s: not s[2]).map(lambda s: s[:2])


def descents():
    """A case with a nonzero gradient, and a rate alpha small enough for it."""
    return DESCENT_CASES.map(lambda case: (case, descent_rate(case))).filter(
        lambda s: s[1] is not None
    )


@given(smooth_directions())
def test_directional_derivative_is_inner_product_with_gradient(
    scenario: tuple[Case, Params],
) -> None:
    case, v = scenario
    note(case.describe())
    check_directional_derivative(REFERENCE, case, v)


@given(descents())
def test_small_descent_step_lowers_error_by_alpha_gradient_squared(
    scenario: tuple[Case, float],
) -> None:
    case, alpha = scenario
    note(f"{case.describe()}; alpha = {alpha}")
    check_descent_step_lowers_error(REFERENCE, case, alpha)
