"""Accuracy of every phi, phi', L_i, E and dE/dh^L against mpmath, in ULP of the value itself.

The requirement: each of them is within MAX_ULP = 4 ULP of its exact value, RELATIVE TO THAT
VALUE, for every float64 input. The exact values (reference/tests/exact.py) come from the
definitions of docs/contract.md, sections 2 and 3, in mpmath at 60 digits or more (more where they
cancel); they never call the code under test.

The distance in ULP is |computed - exact| / ulp(exact), ulp(x) being the spacing of the doubles
at |x|: 2^(e - 52) for 2^e <= |x| < 2^(e + 1). Explicitly:
  - just below a power of two (|x| < 2^e, fl(|x|) = 2^e) the spacing is 2^(e - 53), not
    np.spacing(2^e) = 2^(e - 52);
  - a subnormal x and an exact 0 have ulp = 2^-1074, the spacing of the subnormals: there the
    bound is absolute, 4 2^-1074, and an exact 0 must come out as 0 (or a few subnormals);
  - an exact value beyond the largest double must come out as the infinity of its sign.

The inputs: for phi and phi', a dense grid (log-spaced magnitudes of both signs out to 700,
uniform points in [-40, 40], subnormal and tiny z, the points where an implementation switches
formula or where exp turns subnormal, with their float neighbours, and z out to 1.7e308) and
random z (log-uniform magnitudes from 1e-300 to 1e3, both signs). For the losses: rows built to
cancel (targets y next to h, y in (0, 1) next to sigma(h) and a few floats from it, labels far
below the maximum logit, a label dominating by 600 to 800, logits up to 1e6 and offsets up to
1e15), the logit grid, and random rows, each cut into batches of n = 1, 7 and 64.

The dev and ci profiles run a few thousand points per function in a few seconds;
HYPOTHESIS_PROFILE=thorough runs grids and random draws THOROUGH_DENSITY times denser. Each
checker is also run on a planted wrong function (among them the formulas this module replaced),
to show that it can fail.
"""

import functools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from mpmath import mp, mpf

from reference.activations import (
    _A_HI,
    _A_LO,
    _C_HI,
    _C_LO,
    _GELU_DEEP,
    _GELU_TAIL,
    ACTIVATIONS,
    sigmoid,
    softplus,
)
from reference.decimal_fallback import exact_gelu_tanh_slope, exact_sigmoid_minus
from reference.double_double import (
    EXP_DD_RTOL,
    SHIFT_64_LN2,
    exp_dd,
    sum_last_axis,
)
from reference.losses import LOSSES, Loss
from reference.tests import exact
from reference.tests.exact import DPS
from reference.types import Array

MAX_ULP = 4.0  # the requirement: every phi, dphi, E, L_i and dE/dh^L within 4 ULP of itself
# float32: tanh', sigma', softplus' and elu' run in float32 arithmetic, where numpy's float32
# exp is off by up to 2.5 ULP; gelu_tanh' runs in float64 and rounds once (0.5 ULP). An
# exhaustive scan of every float32 z with 2^-12 <= |z| <= 110 (beyond, each is 0 or 1) against
# long double found at most 3.85 ULP (FLOAT32_WORST below). Evaluating in float64 would give
# 0.5 ULP, at three times the cost of float32's exp.
FLOAT32_MAX_ULP = 4.0
# The worst z of that scan, one per dphi: each is on the float32 grid.
FLOAT32_WORST = {
    "tanh": 44.171875,  # 3.85 ULP: e^-2|z| is a float32 subnormal, and 4 e scales its error
    "softplus": -3.4570289,  # 3.64 ULP
    "sigmoid": 5.53861,  # 3.57 ULP
    "elu": -62.029507,  # 2.54 ULP: numpy's float32 exp itself
}
THOROUGH_DENSITY = 8  # how much denser grids and random draws are under the thorough profile
DENSITY = THOROUGH_DENSITY if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1

# Complex step: phi(z + i s) = phi(z) + i s phi'(z) + O(s^2), with no subtraction, so
# Im phi(z + i s) / s is phi'(z) up to the rounding of phi's complex evaluation. s = 1e-200
# makes the O(s^2) term vanish against any phi'(z) above 1e-100.
COMPLEX_STEP = 1e-200
# The rounding of the complex evaluation, relative to the largest term of phi'. gelu_tanh's
# complex phi evaluates v = 2 sqrt(2/pi)(z + 0.044715 z^3) in plain float64, off by up to about
# 4 u |v| (u = 2^-53, half a dozen roundings), and in the tail phi' ~ e^-|v| turns that into the
# same relative error. Only where phi' > ATOL below does it count, which keeps |v| under about
# 250: 4 u 250 = 1.1e-13 (measured: 4.6e-14 at z = -14.18). The other phi lose a few u at most
# (measured: 6.6e-16, tanh).
COMPLEX_STEP_RTOL = 2e-13
# Below tiny / s, Im phi(z + i s) is subnormal or zero: it keeps only an absolute accuracy of a
# few tiny. This is the only place where a tail derivative is not compared relatively.
COMPLEX_STEP_ATOL = 4 * np.finfo(np.float64).tiny / COMPLEX_STEP

LOSS_BATCH_SIZES = (1, 7, 64)  # n in the 1/n of E and dE/dh^L
# Where e / (1 + e)^2 evaluated as e / ((1 + e) * (1 + e)) misses 4 ULP: 4.29 ULP for sigma'(z)
# = e / (1 + e)^2 with e = e^-|z|, 4.18 ULP for tanh'(z) = 4 e / (1 + e)^2 with e = e^-2|z|.
SQUARED_DENOMINATOR_MISSES = {
    "sigmoid": 6.237925268210862,
    "tanh": 2.4224247905481846,
}
BEYOND = (745.2, 800.0, 1e3, 1e4, 1e10, 1e100, 1e300, 1.7e308)  # inputs past every tail


# --- the distance in ULP --------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """Exact values, each as hi + lo (two floats: hi the nearest double, lo the nearest to the
    rest), which places the exact value between the doubles to 2^-106 of itself."""

    hi: np.ndarray
    lo: np.ndarray


def to_exact(values: Sequence[mpf]) -> Exact:
    """Exact(hi, lo) of mpmath values (at the working precision); lo = 0 past the doubles."""
    hi = [float(x) for x in values]
    lo = [float(x - a) if math.isfinite(a) else 0.0 for x, a in zip(values, hi, strict=True)]
    return Exact(np.array(hi, dtype=np.float64), np.array(lo, dtype=np.float64))


def ulp(exact_values: Exact, dtype: type = np.float64) -> np.ndarray:
    """The spacing of the doubles (or floats of `dtype`) at |x| for each exact x = hi + lo.

    np.spacing(r) for r = |x| rounded to dtype, halved where r is a power of two and |x| lies
    below it (the spacing is finer there); 2^-1074 (2^-149 for float32) for a subnormal or
    zero x.
    """
    magnitude = np.abs(exact_values.hi)
    rest = np.where(exact_values.hi < 0, -exact_values.lo, exact_values.lo)  # |x| - magnitude
    rounded = magnitude.astype(dtype)
    with np.errstate(over="ignore"):
        back = rounded.astype(np.float64)
    below = (back > magnitude) | ((back == magnitude) & (rest < 0))
    power_of_two = np.frexp(rounded)[0] == 0.5
    spacing = np.spacing(rounded).astype(np.float64)
    finer = power_of_two & below & (rounded > np.finfo(dtype).tiny)
    return np.where(finer, spacing / 2, spacing)


def ulp_errors(got: np.ndarray, exact_values: Exact, dtype: type = np.float64) -> np.ndarray:
    """|got - exact| / ulp(exact): NaN where got is NaN or infinite while the exact value is
    finite, 0 where both are the same infinity."""
    got = np.asarray(got, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        # got - hi is exact when got is near hi (Sterbenz); far from it, its rounding is moot.
        error = np.abs((got - exact_values.hi) - exact_values.lo) / ulp(exact_values, dtype)
    infinite = np.isinf(exact_values.hi)
    error = np.where(np.isfinite(got) & ~infinite, error, np.nan)
    return np.where(infinite, np.where(got == exact_values.hi, 0.0, np.inf), error)


@dataclass(frozen=True)
class Worst:
    """The worst error of one function over its inputs, in ULP of the exact value."""

    name: str
    ulp: float
    where: str
    got: float
    exact: float
    over: int  # how many points exceed the bound
    points: int

    def row(self) -> str:
        return (
            f"{self.name:34s} {self.ulp:10.3g} {self.over:6d}/{self.points:<6d} "
            f"{self.where:40s} got={self.got:.17g}  exact={self.exact:.17g}"
        )


def worst(
    name: str,
    errors: np.ndarray,
    got: np.ndarray,
    exact_values: Exact,
    where: Callable[[int], str],
    bound: float = MAX_ULP,
) -> Worst:
    """The worst point of `errors` (a NaN counts as the worst), with how many exceed bound."""
    bad = np.isnan(errors)
    i = int(np.argmax(bad)) if bad.any() else int(np.argmax(errors))
    return Worst(
        name=name,
        ulp=float(errors[i]),
        where=where(i),
        got=float(np.ravel(got)[i]),
        exact=float(exact_values.hi[i]),
        over=int(np.count_nonzero(bad | (errors > bound))),
        points=errors.size,
    )


def worst_of(results: Sequence[Worst]) -> Worst:
    return max(results, key=lambda r: (np.isnan(r.ulp), r.ulp))


def table(title: str, rows: Sequence[Worst], bound: float) -> str:
    header = f"{'function':34s} {'worst ULP':>10s} {'over':>6s}/points {'at':40s} values"
    lines = [f"{title} (bound {bound:.10g} ULP)", header, *(r.row() for r in rows)]
    return "\n".join(lines)


def test_ulp_is_the_spacing_at_the_exact_value() -> None:
    with mp.workdps(DPS):
        values = [mpf(1), 1 - mpf(2) ** -60, 1 + mpf(2) ** -60, mpf(0), mpf(2) ** -1070, mpf(3)]
        spacing = ulp(to_exact(values))
    expected = [2.0**-52, 2.0**-53, 2.0**-52, 2.0**-1074, 2.0**-1074, 2.0**-51]
    assert list(spacing) == expected, f"ulp = {list(spacing)}, but should be {expected}"


def test_ulp_errors_count_an_exact_zero_and_infinities_explicitly() -> None:
    with mp.workdps(DPS):
        values = to_exact([mpf(0), mpf(0), mpf(10) ** 400, mpf(10) ** 400, mpf(1)])
    got = np.array([0.0, 2 * 5e-324, np.inf, 1.7e308, np.inf])
    errors = ulp_errors(got, values)
    assert list(errors[:3]) == [0.0, 2.0, 0.0], errors
    assert np.isinf(errors[3]) and np.isnan(errors[4]), errors


# --- the inputs of phi and phi' -------------------------------------------------------------


def _neighbours(points: Sequence[float], steps: int = 3) -> list[float]:
    """Each point, the `steps` floats on either side of it, and points 1e-9 relative away."""
    out = []
    for p in points:
        lower = upper = float(p)
        out += [lower, p * (1 - 1e-9), p * (1 + 1e-9)]
        for _ in range(steps):
            lower, upper = np.nextafter(lower, -np.inf), np.nextafter(upper, np.inf)
            out += [float(lower), float(upper)]
    return out


@functools.cache
def _switch_points() -> tuple[float, ...]:
    """The z where some phi or dphi changes formula, loses range, or where torch loses digits.

    exp(-t) turns subnormal at t = 1022 ln 2 and underflows to 0 near t = 1075 ln 2; t is |z|
    for sigmoid, softplus and elu, 2|z| for tanh, and |v(z)| for gelu_tanh. Also: the kinks at
    0; the reference's gelu_tanh cut-off at |z| = _GELU_TAIL and its switch to a scaled e^v at
    v = -_GELU_DEEP; where torch's float64 derivatives lose their digits (tanh ~19, sigmoid ~37,
    gelu_tanh ~-11) and its softplus threshold (20); the zero of gelu_tanh's phi' (last).
    """
    with mp.workdps(DPS):
        C, A = exact.gelu_constants()
        out = [0.0, _GELU_TAIL, -_GELU_TAIL, 19.0, -19.0, 37.0, -37.0, -11.0, 20.0, -20.0]
        out += [*SQUARED_DENOMINATOR_MISSES.values()]
        for t in (1022 * mp.ln(2), 1075 * mp.ln(2), mpf(_GELU_DEEP)):
            out += [float(t), -float(t), float(t / 2), -float(t / 2)]
            z_v = mp.findroot(lambda z, t=t: C * z + A * z**3 - t, 5)  # v(z) = t
            out += [float(z_v), -float(z_v)]
        out.append(float(mp.findroot(lambda z: exact.gelu_slope_terms(z)[0], -0.75)))
    return tuple(out)


@functools.cache
def activation_grid(dtype: type = np.float64) -> np.ndarray:
    """The z of the dense grid and the random draws, sorted and unique, in the given dtype."""
    magnitudes = np.geomspace(1e-8, 700, 1000 * DENSITY)
    tiny = np.geomspace(np.finfo(np.float64).smallest_subnormal, 1e-8, 80 * DENSITY)
    uniform = np.linspace(-40, 40, 1601 * DENSITY)
    zero_of_gelu_slope = _switch_points()[-1]
    near_zero_of_gelu_slope = zero_of_gelu_slope + np.linspace(-1e-3, 1e-3, 41)
    drawn = np.random.default_rng(30).uniform(-300, 3, 2000 * DENSITY)
    random = np.where(np.arange(drawn.size) % 2, 1, -1) * 10.0**drawn
    z = np.concatenate(
        [
            magnitudes,
            -magnitudes,
            tiny,
            -tiny,
            uniform,
            near_zero_of_gelu_slope,
            _neighbours(_switch_points()),
            _neighbours([zero_of_gelu_slope], 40),
            BEYOND,
            np.negative(BEYOND),
            random,
        ]
    )
    with np.errstate(over="ignore"):
        z = np.unique(z.astype(dtype))
    z = z[np.isfinite(z)]
    if dtype == np.float32:  # a coarser grid (the exhaustive scan is offline), and its worst z
        z = np.unique(np.concatenate([z[::2], np.array([*FLOAT32_WORST.values()], dtype)]))
    return z


@functools.cache
def exact_phi(name: str, dtype: type = np.float64) -> Exact:
    """Exact phi at every point of activation_grid(dtype)."""
    with mp.workdps(DPS):
        return to_exact([exact.phi(name, float(z)) for z in activation_grid(dtype)])


@functools.cache
def exact_dphi(name: str, dtype: type = np.float64) -> Exact:
    """Exact phi' at every point of activation_grid(dtype)."""
    with mp.workdps(DPS):
        return to_exact([exact.dphi(name, float(z)) for z in activation_grid(dtype)])


def check_elementwise(
    label: str,
    f: Callable[[Array], Array],
    exact_values: Exact,
    dtype: type = np.float64,
    max_ulp: float = MAX_ULP,
) -> Worst:
    """The worst error of f over activation_grid(dtype) against the exact values there."""
    z = activation_grid(dtype)
    with np.errstate(over="ignore"):  # tanh' at |z| > 9e307: -2|z| overflows, exp(-inf) = 0
        got = f(z.copy())
    if got.dtype != dtype:
        where = f"dtype {got.dtype}, but should be {np.dtype(dtype)}"
        return Worst(label, np.inf, where, float(got[0]), float(exact_values.hi[0]), z.size, z.size)
    errors = ulp_errors(got, exact_values, dtype)
    return worst(label, errors, got, exact_values, lambda i: f"z = {float(z[i])!r}", max_ulp)


def check_phi(name: str, phi: Callable[[Array], Array]) -> Worst:
    return check_elementwise(f"{name}", phi, exact_phi(name))


def check_dphi(
    name: str, dphi: Callable[[Array], Array], dtype: type = np.float64, max_ulp: float = MAX_ULP
) -> Worst:
    return check_elementwise(f"{name}'", dphi, exact_dphi(name, dtype), dtype, max_ulp)


# --- phi and phi' ---------------------------------------------------------------------------


def test_every_phi_is_within_4_ulp_of_itself() -> None:
    rows = [check_phi(name, a.phi) for name, a in ACTIVATIONS.items()]
    assert all(r.over == 0 for r in rows), table("phi against mpmath", rows, MAX_ULP)


def test_every_dphi_is_within_4_ulp_of_itself() -> None:
    rows = [check_dphi(name, a.dphi) for name, a in ACTIVATIONS.items()]
    assert all(r.over == 0 for r in rows), table("dphi against mpmath", rows, MAX_ULP)


def test_phi_checker_reports_gelu_tanh_with_v_in_plain_float64() -> None:
    """The formula this replaced: z sigma(v) with v rounded, 925 ULP off at z = -18.9."""

    def plain_gelu(z: np.ndarray) -> np.ndarray:
        return z * sigmoid(2 * np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))

    with np.errstate(over="ignore", invalid="ignore"):
        result = check_phi("gelu_tanh", plain_gelu)
    assert result.over > 0 and result.ulp > 100, table("planted: plain v", [result], MAX_ULP)


def test_phi_checker_reports_softplus_without_its_shift() -> None:
    with np.errstate(over="ignore"):
        result = check_phi("softplus", lambda z: np.log1p(np.exp(z)))  # inf past z = 709.8
    assert result.over > 0 and np.isnan(result.ulp), table("planted: log1p(e^z)", [result], 4)


def test_dphi_checker_reports_the_textbook_tanh_and_sigmoid_derivatives() -> None:
    textbook = {
        "tanh": lambda z: 1 - np.tanh(z) ** 2,  # cancels to 0 past |z| ~ 19
        "sigmoid": lambda z: (s := 1 / (1 + np.exp(-z))) * (1 - s),  # cancels past z ~ 37
    }
    for name, dphi in textbook.items():
        with np.errstate(over="ignore"):
            result = check_dphi(name, dphi)
        assert result.over > 0 and result.ulp > 1e6, table("planted: textbook", [result], MAX_ULP)


def test_dphi_checker_reports_the_rounded_square_in_the_denominator() -> None:
    def squared(e: np.ndarray) -> np.ndarray:
        return e / ((1 + e) * (1 + e))

    rounded_square = {
        "sigmoid": lambda z: squared(np.exp(-np.abs(z))),
        "tanh": lambda z: 4 * squared(np.exp(-2 * np.abs(z))),
    }
    for name, dphi in rounded_square.items():
        result = check_dphi(name, dphi)
        assert result.where == f"z = {SQUARED_DENOMINATOR_MISSES[name]!r}", table(
            "planted: (1 + e)^2 rounded", [result], MAX_ULP
        )
        assert 4 < result.ulp < 5, table("planted: (1 + e)^2 rounded", [result], MAX_ULP)


def test_dphi_checker_reports_a_gelu_tanh_derivative_with_v_in_plain_float64() -> None:
    def plain_gelu_slope(z: np.ndarray) -> np.ndarray:
        C, A = 2 * np.sqrt(2 / np.pi), 2 * np.sqrt(2 / np.pi) * 0.044715
        v = C * z + A * z**3
        e = np.exp(-np.abs(v))
        return (
            np.where(v >= 0, 1 / (1 + e), e / (1 + e)) + z * (C + 3 * A * z**2) * e / (1 + e) ** 2
        )

    with np.errstate(over="ignore", invalid="ignore"):
        result = check_dphi("gelu_tanh", plain_gelu_slope)
    assert result.over > 0, table("planted: gelu_tanh without double-double", [result], MAX_ULP)


def test_dphi_checker_reports_gelu_tanh_derivative_with_exp_in_float64_near_its_zero() -> None:
    """The formula this replaced: everything in double-double but e = exp(-|v|) itself, whose
    error cancels no further in 1 + e + w near the zero of phi' (thousands of ULP there)."""
    from reference.activations import (
        _exp_of_minus_abs_v,
        _gelu_slope_factor,
        _gelu_slope_from_e,
        _gelu_terms,
        _gelu_v,
    )

    def slope_with_exp_in_float64(z: np.ndarray) -> np.ndarray:
        zc = np.clip(z, -_GELU_TAIL, _GELU_TAIL)
        linear, cubic = _gelu_terms(zc)
        v, w = _gelu_v(linear, cubic), _gelu_slope_factor(linear, cubic)
        deep = v[0] < -_GELU_DEEP
        return _gelu_slope_from_e(_exp_of_minus_abs_v(v, deep), w, v[0] < 0, deep, None)

    result = check_dphi("gelu_tanh", slope_with_exp_in_float64)
    assert result.over > 0 and result.ulp > 100, table("planted: exp near z0", [result], MAX_ULP)


def test_dphi_checker_reports_the_wrong_kink_convention() -> None:
    result = check_dphi("relu", lambda z: (z >= 0).astype(z.dtype))  # relu'(0) = 1, not 0
    assert result.over == 1 and result.where == "z = 0.0", table("planted", [result], MAX_ULP)


# --- the double-double building blocks ------------------------------------------------------

# hi + lo carries about 107 bits: hi is the nearest float to the constant and lo the nearest
# to the rest, so |hi + lo - exact| <= ulp(lo) / 2 <= 2^-107 |exact| (a little more, as hi may
# round up) = 6.2e-33; 1e-32 allows that and nothing a wrong digit of lo would give.
DOUBLE_DOUBLE_RTOL = 1e-32
# SHIFT_64_LN2's high part is a multiple of 2^-43 (so that x + hi is exact for |x| >= 512):
# its low part then carries only 53 + 43 - 5 = 91 bits of the constant after the first; lo is
# still the nearest double to the rest, so hi + lo is off by at most ulp(lo) / 2 = 2^-101.
SHIFT_RTOL = 2.0**-101 / 44


def double_double_error(hi: float, lo: float, exact_value: mpf) -> float:
    """|hi + lo - exact| / |exact|, at 60 digits."""
    with mp.workdps(60):
        return float(abs((mpf(hi) + mpf(lo)) - exact_value) / abs(exact_value))


def _gelu_constants_60() -> tuple[mpf, mpf]:
    with mp.workdps(60):
        return exact.gelu_constants()


def test_gelu_double_double_constants_match_mpmath_to_1e_32() -> None:
    C, A = _gelu_constants_60()
    for label, hi, lo, exact_value in (("C", _C_HI, _C_LO, C), ("A", _A_HI, _A_LO, A)):
        error = double_double_error(hi, lo, exact_value)
        assert error <= DOUBLE_DOUBLE_RTOL, (
            f"{label}: |hi + lo - exact| / exact = {error:.3g}, but should be <= "
            f"{DOUBLE_DOUBLE_RTOL:g} (hi={hi.hex()}, lo={lo.hex()}, exact={exact_value})"
        )
        assert abs(lo) <= np.spacing(hi) / 2, f"{label}: lo={lo!r} is not below ulp(hi) / 2"


def test_double_double_checker_reports_a_constant_without_its_low_part() -> None:
    C, _ = _gelu_constants_60()
    assert double_double_error(_C_HI, 0.0, C) > DOUBLE_DOUBLE_RTOL
    assert double_double_error(_C_HI, _C_LO * (1 + 2**-40), C) > DOUBLE_DOUBLE_RTOL


def test_shift_of_64_ln2_matches_mpmath_and_its_high_part_is_a_multiple_of_2_to_the_minus_43():
    hi, lo = SHIFT_64_LN2
    with mp.workdps(60):
        error = double_double_error(hi, lo, 64 * mp.ln(2))
    assert error <= SHIFT_RTOL, f"64 ln 2: relative error {error:.3g} > {SHIFT_RTOL:.3g}"
    assert (hi * 2.0**43).is_integer(), f"hi = {hi.hex()} is not a multiple of 2^-43"


@functools.cache
def exp_points() -> np.ndarray:
    rng = np.random.default_rng(31)
    return np.concatenate(
        [
            rng.uniform(-745, 709, 3000 * DENSITY),
            -np.exp(rng.uniform(-60, np.log(745), 2000 * DENSITY)),
            np.exp(rng.uniform(-60, np.log(709), 1000 * DENSITY)),
            [0.0, -0.0, 5e-324, -5e-324, -708.39, -708.4, -744.4, -745.1, -745.2, -746.0, 709.0],
        ]
    )


def exp_dd_errors(points: np.ndarray) -> np.ndarray:
    """|exp_dd(x) - e^x| / (e^x + 2^-1074 / EXP_DD_RTOL): <= EXP_DD_RTOL is the bound."""
    hi, lo = exp_dd(points)
    with mp.workdps(DPS):
        errors = [
            float(
                abs(mpf(float(a)) + mpf(float(b)) - (e := mp.exp(mpf(float(x)))))
                / (e + mpf(2) ** -1074 / mpf(EXP_DD_RTOL))
            )
            for x, a, b in zip(points, hi, lo, strict=True)
        ]
    return np.array(errors)


def test_exp_dd_is_within_its_bound_of_mpmath() -> None:
    errors = exp_dd_errors(exp_points())
    i = int(np.argmax(errors))
    assert errors[i] <= EXP_DD_RTOL, (
        f"exp_dd({exp_points()[i]!r}) is off by {errors[i]:.3g} relative, but should be within "
        f"EXP_DD_RTOL = 2^{np.log2(EXP_DD_RTOL):.0f}"
    )


def test_exp_dd_checker_reports_exp_rounded_to_a_double() -> None:
    points = exp_points()[:200]
    hi, _ = exp_dd(points)
    with mp.workdps(DPS):
        errors = [
            float(abs(mpf(float(a)) - mp.exp(mpf(float(x)))) / mp.exp(mpf(float(x))))
            for x, a in zip(points, hi, strict=True)
        ]
    assert max(errors) > EXP_DD_RTOL  # the low part carries the digits the bound needs


def test_sum_last_axis_is_the_exact_sum_to_2_to_the_minus_100() -> None:
    rng = np.random.default_rng(32)
    for width in (1, 2, 3, 7, 10, 64):
        terms = rng.standard_normal((20, width)) * 10.0 ** rng.uniform(-20, 20, (20, width))
        hi, lo = sum_last_axis((terms, np.zeros_like(terms)))
        for row, a, b in zip(terms, hi, lo, strict=True):
            with mp.workdps(60):
                error = abs(mpf(float(a)) + mpf(float(b)) - mp.fsum(mpf(float(t)) for t in row))
                size = mp.fsum(abs(mpf(float(t))) for t in row)
            assert error <= size * mpf(2) ** -100, f"width {width}: {row} sums to {a} + {b}"


CLOSE_TO_SIGMOID = [(h, float(exact.sigma(mpf(h)))) for h in (-700.0, -3.5, 0.25, 2.0, 36.0)]


@pytest.mark.parametrize(("h", "y"), [*CLOSE_TO_SIGMOID, (0.0, 0.5), (0.0, 0.25), (-800.0, 0.0)])
def test_exact_sigmoid_minus_is_correctly_rounded(h: float, y: float) -> None:
    with mp.workdps(DPS):
        expected = exact.binary_cross_entropy_row([h], [y])[1][0]
    for n in (1, 7):
        got = exact_sigmoid_minus(h, y, n)
        with mp.workdps(DPS):
            assert got == float(expected / n), (
                f"(sigma({h}) - {y}) / {n} = {got!r}, not {expected / n}"
            )


def test_exact_gelu_tanh_slope_is_correctly_rounded() -> None:
    z0 = _switch_points()[-1]
    for z in [*_neighbours([z0], 3), -0.5, -3.0, 2.0, -12.0]:
        with mp.workdps(DPS):
            expected = float(exact.dphi("gelu_tanh", z))
        got = exact_gelu_tanh_slope(z)
        assert got == expected, f"gelu_tanh'({z!r}) = {got!r}, but should be {expected!r}"


def test_gelu_tanh_slope_at_its_zero_is_within_4_ulp_and_warns_nothing() -> None:
    """At z0, the double nearest the zero of phi', 1 + e + w rounds to exactly 0: the
    amplification |1 + 2e + w| / |1 + e + w| is infinite there, which must send z0 to the decimal
    module without a division warning."""
    z0 = _switch_points()[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ACTIVATIONS["gelu_tanh"].dphi(np.array([z0]))
    with mp.workdps(DPS):
        expected = to_exact([exact.dphi("gelu_tanh", z0)])
    error = ulp_errors(got, expected)[0]
    assert error <= MAX_ULP, (
        f"gelu_tanh'({z0!r}) = {got[0]!r}, {error:.3g} ULP from the exact {expected.hi[0]!r}"
    )


# The decimal module decides only z whose amplification exceeds FALLBACK_RTOL / EXP_DD_RTOL =
# 2^37; next to z0 the amplification is about 0.12 / |z - z0| (1.3e8 at 2^-30 from z0), so
# only z within about 2^-40 of z0 reach it. 2^-30 leaves a margin of 2^10 for that estimate.
DECIMAL_REACH = 2.0**-30


def test_gelu_tanh_slope_asks_the_decimal_module_only_next_to_its_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decimal fallback costs about a millisecond a point: exp_dd serves every z but the few
    closest to z0 (reference.decimal_fallback)."""
    import reference.activations

    asked: list[float] = []

    def counted(z: float) -> float:
        asked.append(z)
        return exact_gelu_tanh_slope(z)

    monkeypatch.setattr(reference.activations, "exact_gelu_tanh_slope", counted)
    z0 = _switch_points()[-1]
    ACTIVATIONS["gelu_tanh"].dphi(z0 + np.linspace(-1e-3, 1e-3, 41))
    far = [z for z in asked if abs(z - z0) > DECIMAL_REACH]
    assert asked and not far, (
        f"the decimal module decided {len(asked)} of 41 points within 1e-3 of z0 = {z0!r}, "
        f"{len(far)} of them farther than 2^-30 from it (e.g. {far[:2]}), but should decide z0 only"
    )


# --- the complex path -----------------------------------------------------------------------


@functools.cache
def dphi_terms(name: str) -> np.ndarray:
    """The size of the largest term of phi' on activation_grid(): |phi'| itself, except for
    gelu_tanh, whose phi' = sigma(v) + z v'(z) sigma'(v) crosses zero."""
    if name != "gelu_tanh":
        return np.abs(exact_dphi(name).hi)
    with mp.workdps(DPS):
        return np.array(
            [float(exact.gelu_slope_terms(mpf(float(z)))[1]) for z in activation_grid()]
        )


def complex_step_errors(
    phi: Callable[[Array], Array], dphi: Callable[[Array], Array], z: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """|Im phi(z + i s) / s - dphi(z)| / (RTOL scale + ATOL) for COMPLEX_STEP s: <= 1 is ok."""
    stepped = phi(z + 1j * COMPLEX_STEP)
    if not np.iscomplexobj(stepped):
        return np.full(z.shape, np.inf)
    slope = stepped.imag / COMPLEX_STEP
    allowed = COMPLEX_STEP_RTOL * scale + COMPLEX_STEP_ATOL
    return np.abs(slope - dphi(z)) / allowed


def _off_kink_grid(name: str) -> tuple[np.ndarray, np.ndarray]:
    """activation_grid without the kink itself and past 1e300 (where z + i s overflows in
    complex arithmetic), with the size of phi' there."""
    z, scale = activation_grid(), dphi_terms(name)
    keep = (z != ACTIVATIONS[name].kink) & (np.abs(z) < 1e300)
    return z[keep], scale[keep]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_complex_step_of_phi_agrees_with_dphi(name: str) -> None:
    a = ACTIVATIONS[name]
    z, scale = _off_kink_grid(name)
    with np.errstate(over="ignore", invalid="ignore"):
        errors = complex_step_errors(a.phi, a.dphi, z, scale)
    i = int(np.argmax(errors))
    assert errors[i] <= 1, (
        f"{name}: Im phi(z + i {COMPLEX_STEP:g}) / {COMPLEX_STEP:g} = "
        f"{a.phi(z[i : i + 1] + 1j * COMPLEX_STEP).imag[0] / COMPLEX_STEP!r}, but should be "
        f"dphi(z) = {a.dphi(z[i : i + 1])[0]!r} within {COMPLEX_STEP_RTOL:g} of {scale[i]:.3g} "
        f"+ {COMPLEX_STEP_ATOL:.3g} [z = {z[i]!r}; {np.count_nonzero(errors > 1)} points off]"
    )


@pytest.mark.parametrize(
    ("name", "convention"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)]
)
def test_complex_step_at_the_kink_gives_pytorchs_convention(name: str, convention: float) -> None:
    a = ACTIVATIONS[name]
    z = np.array([0.0])
    slope = a.phi(z + 1j * COMPLEX_STEP).imag[0] / COMPLEX_STEP
    assert slope == convention, f"{name}: complex step at 0 = {slope!r}, but should be {convention}"
    assert a.dphi(z)[0] == convention, f"{name}: dphi(0) = {a.dphi(z)[0]!r}, not {convention}"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_phi_of_complex_input_is_complex(name: str) -> None:
    z = np.array([-2.0, 0.0, 3.0]) + 1j * COMPLEX_STEP
    assert ACTIVATIONS[name].phi(z).dtype == np.complex128


def test_complex_step_checker_reports_a_branch_on_the_modulus() -> None:
    def relu_on_modulus(z: Array) -> Array:  # the planted bug: |z| > 0 instead of Re z > 0
        return np.where(np.abs(z) > 0, z, 0)

    def relu_dropping_the_imaginary_part(z: Array) -> Array:
        return np.maximum(z.real, 0)

    z, scale = _off_kink_grid("relu")
    dphi = ACTIVATIONS["relu"].dphi
    assert np.any(complex_step_errors(relu_on_modulus, dphi, z, scale) > 1)
    assert np.all(complex_step_errors(relu_dropping_the_imaginary_part, dphi, z, scale) > 1)


@pytest.mark.parametrize("x", [-700.0, -30.0, -1e-3, 0.0, 2.5, 30.0, 700.0])
def test_complex_softplus_keeps_the_real_part_accurate(x: float) -> None:
    """Re softplus(x + i h) is softplus(x) to a few ULP for a tiny step h, also in the tails
    (NumPy's own complex log1p loses 3 digits of it at x = -30)."""
    z = np.array([x + 1e-200j])
    with mp.workdps(50):
        exact_value = float(mp.log1p(mp.exp(mpf(x))))
    got = float(ACTIVATIONS["softplus"].phi(z).real[0])
    assert abs(got - exact_value) <= 4 * np.spacing(abs(exact_value)), (
        f"Re softplus({x} + 1e-200i) = {got!r}, but should be {exact_value!r}"
    )


# --- float32 --------------------------------------------------------------------------------


def test_float32_dphi_is_float32_and_within_4_float32_ulp() -> None:
    rows = [check_dphi(n, a.dphi, np.float32, FLOAT32_MAX_ULP) for n, a in ACTIVATIONS.items()]
    assert all(r.over == 0 for r in rows), table("float32 dphi", rows, FLOAT32_MAX_ULP)


def test_float32_checker_reports_the_textbook_sigmoid_derivative() -> None:
    def textbook(z: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)  # 1 - s is 0 in float32 past z ~ 17

    with np.errstate(over="ignore"):
        result = check_dphi("sigmoid", textbook, np.float32, FLOAT32_MAX_ULP)
    assert result.over > 0, table("planted: float32 textbook", [result], FLOAT32_MAX_ULP)


def test_float32_checker_reports_a_dphi_that_returns_float64() -> None:
    result = check_dphi(
        "tanh", lambda z: ACTIVATIONS["tanh"].dphi(z.astype(np.float64)), np.float32
    )
    assert result.over == result.points and "dtype" in result.where, table(
        "planted: float64 out", [result], FLOAT32_MAX_ULP
    )


# --- the losses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LossRows:
    """Rows of h^L (rows, n_L) and their targets y, with the exact L_i and n dE/dh^L_i."""

    label: str
    h: np.ndarray
    y: np.ndarray
    L: list[mpf]
    g: list[list[mpf]]


def loss_rows(loss: str, label: str, h: np.ndarray, y: np.ndarray) -> LossRows:
    with mp.workdps(DPS):
        exact_rows = [
            exact.loss_row(
                loss,
                [float(v) for v in hr],
                yr if loss == "cross_entropy" else [float(v) for v in yr],
            )
            for hr, yr in zip(h, y, strict=True)
        ]
    return LossRows(label, h, y, [L for L, _ in exact_rows], [g for _, g in exact_rows])


def _logits() -> np.ndarray:
    """Logits of every size, both signs: a quarter of the activation grid, and far beyond."""
    return np.concatenate([activation_grid()[::4], BEYOND, np.negative(BEYOND)])


def _next_floats(a: np.ndarray, steps: int) -> np.ndarray:
    """a moved `steps` floats up (steps > 0) or down."""
    for _ in range(abs(steps)):
        a = np.nextafter(a, np.inf if steps > 0 else -np.inf)
    return a


@functools.cache
def squared_error_rows() -> tuple[LossRows, ...]:
    rng = np.random.default_rng(20)
    h = _logits()
    h = h[np.abs(h) < 1e150]  # so that (h - y)^2 stays finite
    eps = np.finfo(np.float64).eps
    y = np.stack(
        [h * (1 + eps), h * (1 - 4 * eps), -h, np.zeros_like(h), rng.standard_normal(h.size)],
        axis=1,
    )
    grid = loss_rows("squared_error", "logit grid", np.broadcast_to(h[:, None], y.shape).copy(), y)
    scale = 10.0 ** rng.uniform(-3, 6, (200 * DENSITY, 1))
    h_random = scale * rng.standard_normal((200 * DENSITY, 3))
    near = h_random * (1 + rng.integers(-8, 9, h_random.shape) * eps)  # y within 8 ULP of h
    far = scale * rng.standard_normal(h_random.shape)
    y_random = np.where(rng.random(h_random.shape) < 0.5, near, far)
    random = loss_rows("squared_error", "random rows", h_random, y_random)
    # 32 squares of 1e-162 or less, each subnormal: the row sum must not add their roundings
    # (the first rows: squares of 0.3 to 0.45 units of 2^-1074, each of which rounds to 0)
    y = 10.0 ** rng.uniform(-165, -150, (40, 32))
    h = y + rng.choice([-1, 1], y.shape) * 10.0 ** rng.uniform(-170, -161, y.shape)
    y[:10], h[:10] = 0.0, np.sqrt(rng.uniform(0.3, 0.45, (10, 32))) * 2.0**-537
    subnormal = loss_rows("squared_error", "subnormal squares", h, y)
    # rows below 2^-900 (summed again at a scale where every square is a normal double) whose
    # h - y is inexact, h and y being of different sizes: the low part of h - y counts there too
    h = rng.choice([-1, 1], (40, 3)) * 10.0 ** rng.uniform(-160, -140, (40, 3))
    y = rng.standard_normal((40, 3)) * 10.0 ** rng.uniform(-175, -158, (40, 3))
    tiny = loss_rows("squared_error", "tiny rows, h - y inexact", h, y)
    # differences past 2^500, large against y (1e140), so that h - y has a low part: squares up
    # to 2^1010, which with a batch's sum of them stay finite
    y = rng.standard_normal((40, 3)) * 1e140
    h = y + rng.choice([-1, 1], y.shape) * 2.0 ** rng.uniform(500, 505, y.shape)
    huge = loss_rows("squared_error", "differences past 2^500", h, y)
    return grid, random, subnormal, tiny, huge


@functools.cache
def cross_entropy_rows() -> tuple[LossRows, ...]:
    rng = np.random.default_rng(21)
    blocks = []
    # random logits of every scale up to 1e6, labels anywhere
    scale = 10.0 ** rng.uniform(-3, 6, (200 * DENSITY, 1))
    h = scale * rng.standard_normal((200 * DENSITY, 4))
    blocks.append(("random logits up to 1e6", h, rng.integers(0, 4, h.shape[0])))
    # logits of scale 12, labels far from the maximum, on top of offsets up to 1e15
    offset = np.where(
        rng.random((150 * DENSITY, 1)) < 0.5, 0.0, 10.0 ** rng.uniform(3, 15, (150 * DENSITY, 1))
    )
    h = 12 * rng.standard_normal((150 * DENSITY, 10)) + offset * rng.choice(
        [-1, 1], (150 * DENSITY, 1)
    )
    y = np.argsort(h, axis=1)[:, rng.integers(0, 5, h.shape[0])].diagonal().copy()
    blocks.append(("scale 12, labels below the max", h, y))
    # one dominant logit: the label's probability within e^-a of 1, a up to 800
    a = np.geomspace(1e-3, 800, 120 * DENSITY)
    h = np.stack([a, np.zeros_like(a), -a / 3, np.full_like(a, 0.5)], axis=1)
    blocks.append(("label dominant by a", h, np.zeros(a.size, dtype=np.int64)))
    # the label dominates nine others by 600 to 800: others near and below the subnormals
    gap = rng.uniform(600, 800, (60 * DENSITY, 1)) + rng.uniform(0, 8, (60 * DENSITY, 9))
    h = np.concatenate([np.zeros((60 * DENSITY, 1)), -gap], axis=1) + rng.uniform(
        -50, 50, (60 * DENSITY, 1)
    )
    blocks.append(("label dominant by 600-800", h, np.zeros(h.shape[0], dtype=np.int64)))
    # 23 others, each e^(h_k - m) subnormal: below half a unit of 2^-1074 (they round to 0),
    # or near e^-710, where they keep only some 50 bits
    gap = np.concatenate(
        [rng.uniform(745.2, 745.8, (10 * DENSITY, 23)), rng.uniform(709, 712, (10 * DENSITY, 23))]
    )
    h = np.concatenate([np.zeros((gap.shape[0], 1)), -gap], axis=1)
    blocks.append(("label dominant, subnormal others", h, np.zeros(h.shape[0], dtype=np.int64)))
    # huge logits, both signs, in one row; ties
    rows = [
        [[big, -big, big * (1 - 1e-15), 0.0], [big, big, -big, 1.0]]
        for big in (1e3, 1e10, 1e300, 1.7e308)
    ]
    h = np.array([r for pair in rows for r in pair] + [[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, -1.0, 5.0]])
    blocks.append(("huge logits, ties", h, np.resize(np.arange(4), h.shape[0])))
    # a row whose h - m overflows to -inf (logits of +-1.7e308) in a batch of rows whose h - m is
    # inexact (logits from -1e-3 to -560): the others keep the low parts of their e^(h - m)
    h = -(10.0 ** rng.uniform(-3, 2.75, (14, 4)))
    h[::7] = [1.7e308, -1.7e308, 1.0, 0.0]
    blocks.append(("h - m overflowing beside inexact rows", h, rng.integers(0, 4, h.shape[0])))
    # a single output: softmax = 1, L_i = 0, dE/dh = 0
    h = rng.standard_normal((10, 1)) * 100
    blocks.append(("one output", h, np.zeros(10, dtype=np.int64)))
    return tuple(loss_rows("cross_entropy", label, h, y) for label, h, y in blocks)


@functools.cache
def binary_cross_entropy_rows() -> tuple[LossRows, ...]:
    rng = np.random.default_rng(22)
    h = _logits()
    h = h[np.abs(h) <= 1e300]  # a row's terms, and a batch's sum of rows, stay finite
    y = np.stack(
        [
            np.zeros_like(h),
            np.ones_like(h),
            np.full_like(h, 0.5),
            np.full_like(h, 1 - 2**-53),
            rng.random(h.size),
        ],
        axis=1,
    )
    grid = loss_rows(
        "binary_cross_entropy", "logit grid", np.broadcast_to(h[:, None], y.shape).copy(), y
    )
    # y = sigma(h) rounded, and a few floats from it: the decimal module decides these
    h = h[:: max(1, 4 // DENSITY)]
    with np.errstate(over="ignore"):
        near = sigmoid(h)
    y = np.clip(np.stack([near, _next_floats(near, 1), _next_floats(near, -3)], axis=1), 0, 1)
    close = loss_rows(
        "binary_cross_entropy", "y next to sigma(h)", np.broadcast_to(h[:, None], y.shape).copy(), y
    )
    scale = 10.0 ** rng.uniform(-2, 2.5, (200 * DENSITY, 1))
    h = scale * rng.standard_normal((200 * DENSITY, 4))
    smoothed = rng.choice([0.0, 0.05, 0.1, 0.9, 0.95, 1.0], h.shape)
    y = np.where(
        rng.random(h.shape) < 0.3,
        sigmoid(h),
        np.where(rng.random(h.shape) < 0.5, smoothed, rng.random(h.shape)),
    )
    random = loss_rows("binary_cross_entropy", "random rows", h, y)
    h = np.array([[176.0, -176.0, 40.0, -745.0], [0.0, 0.0, 1e6, -1e6], [1.7e308, 0, 0, 0]])
    y = np.array([[1.0, 0.0, 1.0, 0.0], [0.5, 0.25, 1 - 2**-53, 2**-53], [0.5, 0, 0, 0]])
    special = loss_rows("binary_cross_entropy", "sigma(176) - 1, h = 0", h, y)
    # 16 terms e^-|h| + y |h| below 1e-300, most of them subnormal (the first rows: e^-|h| of
    # 0.25 to 0.47 units of 2^-1074, each of which rounds to 0)
    h = -rng.uniform(690, 750, (40, 16))
    y = np.where(rng.random(h.shape) < 0.5, 0.0, rng.integers(0, 50, h.shape) * 5e-324)
    h[:10], y[:10] = -rng.uniform(745.2, 745.8, (10, 16)), 0.0
    subnormal = loss_rows("binary_cross_entropy", "subnormal terms", h, y)
    # y an odd multiple of 2^-54 below 1/2, so that 1 - y is not a double (its low part is
    # +-2^-54), and h small and positive: sigma(h) - y = (1 - y) - sigma(-h) is 1e-10 to 1e-3,
    # of which that low part is up to 2^-20
    h = 10.0 ** rng.uniform(-9, -2, (40, 4))
    y = 0.5 - (2 * rng.integers(0, 2**19, h.shape) + 1) * 2.0**-54
    inexact = loss_rows("binary_cross_entropy", "1 - y inexact, h near 0", h, y)
    return grid, close, random, special, subnormal, inexact


LOSS_ROWS: dict[str, Callable[[], tuple[LossRows, ...]]] = {
    "squared_error": squared_error_rows,
    "cross_entropy": cross_entropy_rows,
    "binary_cross_entropy": binary_cross_entropy_rows,
}


def _batches(rows: LossRows, n: int) -> list[slice]:
    return [slice(i, i + n) for i in range(0, rows.h.shape[0] // n * n, n)]


def _check_batches(
    label: str,
    rows_of: Callable[[], tuple[LossRows, ...]],
    compute: Callable[[np.ndarray, np.ndarray], np.ndarray],
    exact_of: Callable[[LossRows, slice, int], list[mpf]],
    position: Callable[[int, int], str],
) -> Worst:
    """The worst of compute(h, y) over every batch of n rows of every block, for n in
    LOSS_BATCH_SIZES, against exact_of(rows, batch, n); position(i, width) names entry i."""
    results = []
    for rows in rows_of():
        for n in LOSS_BATCH_SIZES:
            batches = _batches(rows, n)
            if not batches:
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                got = np.concatenate(
                    [np.ravel(compute(rows.h[b].copy(), rows.y[b].copy())) for b in batches]
                )
            with mp.workdps(DPS):
                expected = to_exact([v for b in batches for v in exact_of(rows, b, n)])

            def where(i: int, n: int = n, rows: LossRows = rows) -> str:
                return f"{rows.label}: n = {n}, {position(i, rows.h.shape[1])}"

            results.append(worst(label, ulp_errors(got, expected), got, expected, where))
    return worst_of(results)


def check_loss_grad(name: str, grad: Callable[[Array, np.ndarray], Array]) -> Worst:
    """The worst dE/dh^L entry over every batch, in ULP of itself."""
    return _check_batches(
        f"{name} dE/dh",
        LOSS_ROWS[name],
        grad,
        lambda rows, b, n: [gk / n for row in rows.g[b] for gk in row],
        lambda i, width: f"row {i // width}, col {i % width}",
    )


def check_loss_value(name: str, value: Callable[[Array, np.ndarray], float]) -> Worst:
    """The worst E over every batch, in ULP of itself."""
    return _check_batches(
        f"{name} E",
        LOSS_ROWS[name],
        lambda h, y: np.array([value(h, y)]),
        lambda rows, b, n: [mp.fsum(rows.L[b]) / n],
        lambda i, width: f"batch {i}",
    )


def check_loss_rows(name: str, per_example: Callable[[Array, np.ndarray], Array]) -> Worst:
    """The worst L_i over every block of rows (one batch of all its rows), in ULP of itself."""
    results = []
    for rows in LOSS_ROWS[name]():
        with np.errstate(over="ignore", invalid="ignore"):
            got = per_example(rows.h.copy(), rows.y.copy())
        with mp.workdps(DPS):
            expected = to_exact(rows.L)

        def where(i: int, label: str = rows.label) -> str:
            return f"{label}: row {i}"

        results.append(worst(f"{name} L_i", ulp_errors(got, expected), got, expected, where))
    return worst_of(results)


def check_loss(name: str, loss: Loss) -> list[Worst]:
    return [
        check_loss_grad(name, loss.grad),
        check_loss_rows(name, loss.per_example),
        check_loss_value(name, loss.value),
    ]


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_gradient_L_i_and_E_are_within_4_ulp_of_themselves(name: str) -> None:
    rows = check_loss(name, LOSSES[name])
    assert all(r.over == 0 for r in rows), table(f"{name} against mpmath", rows, MAX_ULP)


# squared_error's L_i = 1/2 sum_k (h_k - y_k)^2 involves no exp or log: h - y (two_sum) and each
# square (two_square) are exact, 2 d_hi d_lo is off by 2^-53 of itself (< 2^-104 of d^2), the
# omitted d_lo^2 is < 2^-106 of d^2, and the double-double sum of the nonnegative squares is off
# by about 2^-100 n_L of the row sum. So L_i is the exact value correctly rounded, to about
# 2^-45 ULP (n_L <= 32). Rows below 2^-900 are summed at 2^128 times their size, rounded there
# and scaled back: exact for a normal L_i, a second rounding for a subnormal one (< 1 ULP).
ROUNDED_ONCE_ULP = 0.5 + 2.0**-40
ROUNDED_TWICE_ULP = 1.0  # a subnormal L_i: two roundings of at most half a unit each


def test_squared_error_L_i_are_correctly_rounded() -> None:
    """Tighter than the 4 ULP that every loss meets: nothing in L_i but the final rounding."""
    tiny = float(np.finfo(np.float64).tiny)
    results = []
    for rows in squared_error_rows():
        got = LOSSES["squared_error"].per_example(rows.h.copy(), rows.y.copy())
        with mp.workdps(DPS):
            expected = to_exact(rows.L)
        errors = ulp_errors(got, expected)
        bound = np.where(np.abs(expected.hi) < tiny, ROUNDED_TWICE_ULP, ROUNDED_ONCE_ULP)

        def where(i: int, label: str = rows.label) -> str:
            return f"{label}: row {i}"

        # errors / bound * ROUNDED_ONCE_ULP: one scale for both bounds, so that over counts both
        scaled = errors / bound * ROUNDED_ONCE_ULP
        results.append(worst("squared_error L_i", scaled, got, expected, where, ROUNDED_ONCE_ULP))
    assert all(r.over == 0 for r in results), table(
        "squared_error L_i (subnormal ones against 1 ULP, scaled to this bound)",
        results,
        ROUNDED_ONCE_ULP,
    )


# L_i = (m - h_y) + log T for a label 90 or more below the maximum m and a third logit m - c,
# c in [10, 40]: log T = log(1 + e^-c + e^(h_y - m)) < 5e-5 is computed to 2^-51 of itself, an
# error below 2^-65, that is 2^-19 of an ULP of L_i >= 90. The rest is exact (m - h_y, carried
# in double-double, h_y having bits below m's last) or about 2^-100 of L_i: L_i rounded once.
GAP_PLUS_LOG_T_ULP = 0.5 + 2.0**-16


def test_cross_entropy_L_i_far_below_the_maximum_are_correctly_rounded() -> None:
    """m - h_y is exact as a double-double, so its low part must count, with its sign: log T
    of the order of an ULP of L_i decides the rounding of m - h_y + log T."""
    rng = np.random.default_rng(23)
    m = 10.0 ** rng.uniform(2, 15, 400)
    h_y = rng.standard_normal(400) * 10.0 ** rng.uniform(-3, 1, 400)
    h = np.stack([m, h_y, m - rng.uniform(10, 40, 400)], axis=1)
    rows = loss_rows("cross_entropy", "h_y far below m", h, np.ones(400, dtype=np.int64))
    got = LOSSES["cross_entropy"].per_example(h, rows.y)
    with mp.workdps(DPS):
        expected = to_exact(rows.L)
    result = worst(
        "cross_entropy L_i",
        ulp_errors(got, expected),
        got,
        expected,
        lambda i: f"h = {h[i].tolist()}, y = 1",
        GAP_PLUS_LOG_T_ULP,
    )
    assert result.over == 0, table("L_i = m - h_y + log T", [result], GAP_PLUS_LOG_T_ULP)


def test_binary_cross_entropy_L_i_of_large_logits_are_correctly_rounded() -> None:
    """For |h| >= 50 and w = 1 - y (h >= 0) or y (h < 0) at least 1e-3, each term w |h| +
    log1p(e^-|h|) is w |h| to 2^-67 of itself: log1p's and exp's errors reach L_i at 2^-119, and
    w |h| is a double-double product (1 - y carried exactly, with its low part; |h| up to 1e300,
    where the product is scaled first). L_i is then rounded once: ROUNDED_ONCE_ULP."""
    rng = np.random.default_rng(24)
    h = rng.choice([-1, 1], (200, 3)) * 10.0 ** rng.uniform(1.7, 300, (200, 3))
    h[150:] = h[150:] / np.abs(h[150:]) * 10.0 ** rng.uniform(298, 300, (50, 3))  # past 2^990
    y = rng.uniform(1e-3, 1 - 1e-3, h.shape)
    rows = loss_rows("binary_cross_entropy", "|h| >= 50", h, y)
    got = LOSSES["binary_cross_entropy"].per_example(h, y)
    with mp.workdps(DPS):
        expected = to_exact(rows.L)
    result = worst(
        "binary_cross_entropy L_i",
        ulp_errors(got, expected),
        got,
        expected,
        lambda i: f"h = {h[i].tolist()}, y = {y[i].tolist()}",
        ROUNDED_ONCE_ULP,
    )
    assert result.over == 0, table("L_i = sum_k w_k |h_k|", [result], ROUNDED_ONCE_ULP)


@pytest.mark.parametrize("n", [1, 5])
def test_cross_entropy_L_i_with_leading_axes_are_within_4_ulp_of_themselves(n: int) -> None:
    """h of shape (K, n, n_L), as the finite differences pass it: K copies of a batch of n rows
    with one set of labels. The rows where the label dominates (their others summed again where
    no term is subnormal) keep their accuracy with the leading axis too."""
    results = []
    for rows in cross_entropy_rows():
        if not rows.label.startswith("label dominant"):  # these have every label 0
            continue
        K = rows.h.shape[0] // n
        got = LOSSES["cross_entropy"].per_example(
            rows.h[: K * n].reshape(K, n, -1).copy(), np.zeros(n, dtype=np.int64)
        )
        assert got.shape == (K, n), f"L_i of h ({K}, {n}, n_L) has shape {got.shape}"
        with mp.workdps(DPS):
            expected = to_exact(rows.L[: K * n])

        def where(i: int, label: str = rows.label) -> str:
            return f"{label}: h[{i // n}, {i % n}]"

        results.append(worst("cross_entropy L_i", ulp_errors(got, expected), got, expected, where))
    assert len(results) == 3, f"{len(results)} blocks of rows with every label 0, expected 3"
    assert all(r.over == 0 for r in results), table(f"h (K, {n}, n_L)", results, MAX_ULP)


# The formulas this module replaced, planted: each must fail the check above.


def _softmax_rounded_shift(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """softmax with h - max(h) rounded (61 ULP off at logits of scale 12)."""
    rows = np.arange(h.shape[0])
    e = np.exp(h - h.max(axis=1, keepdims=True))
    total = e.sum(axis=1)
    others = np.where(np.arange(h.shape[1]) == y[:, None], 0, e).sum(axis=1)
    grad = e / total[:, None]
    grad[rows, y] = -others / total
    return grad / h.shape[0]


def _sigmoid_minus_y(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(sigma(h) - y) / n in plain float64: cancels for y next to sigma(h); 0 for h = 176, y = 1."""
    return (sigmoid(h) - y) / h.shape[0]


def _logsumexp_minus_label(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """logsumexp(h) - h_y: cancels when the label dominates."""
    m = h.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(h - m).sum(axis=-1))
    return lse - np.take_along_axis(h, np.broadcast_to(y[:, None], (*h.shape[:-1], 1)), -1)[..., 0]


def _softplus_minus_yh(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """sum_k softplus(h) - y h: cancels for large h with y near 1."""
    return (softplus(h) - y * h).sum(axis=-1)


def test_loss_checker_reports_the_replaced_formulas() -> None:
    planted = [
        check_loss_grad("cross_entropy", _softmax_rounded_shift),
        check_loss_grad("binary_cross_entropy", _sigmoid_minus_y),
        check_loss_rows("cross_entropy", _logsumexp_minus_label),
        check_loss_rows("binary_cross_entropy", _softplus_minus_yh),
        check_loss_value(
            "cross_entropy", lambda h, y: _logsumexp_minus_label(h, y).sum() / h.shape[0]
        ),
    ]
    assert all(r.over > 0 for r in planted), table("planted: replaced formulas", planted, MAX_ULP)


def test_loss_checker_reports_rows_of_subnormal_terms_rounded_one_by_one(monkeypatch) -> None:
    """Without the sums redone at a scale where every term is a normal double."""
    import reference.losses

    monkeypatch.setattr(reference.losses, "_TINY_ROW", 0.0)
    monkeypatch.setattr(reference.losses, "_DEEP_OTHERS", 0.0)
    planted = [
        check_loss_rows("squared_error", LOSSES["squared_error"].per_example),
        check_loss_rows("binary_cross_entropy", LOSSES["binary_cross_entropy"].per_example),
        check_loss_rows("cross_entropy", LOSSES["cross_entropy"].per_example),
        check_loss_grad("cross_entropy", LOSSES["cross_entropy"].grad),
    ]
    assert all(r.over > 0 for r in planted), table("planted: subnormal terms", planted, MAX_ULP)


def test_loss_checker_reports_planted_gradients() -> None:
    def unshifted_softmax(h: np.ndarray, y: np.ndarray) -> np.ndarray:  # overflows past 709
        e = np.exp(h)
        g = e / e.sum(axis=1, keepdims=True)
        g[np.arange(h.shape[0]), y] -= 1
        return g / h.shape[0]

    def divided_first(h: np.ndarray, y: np.ndarray) -> np.ndarray:  # h/n - y/n cancels
        return h / h.shape[0] - y / h.shape[0]

    def sigmoid_in_float32(h: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-h.astype(np.float32)))
        return (s - y) / h.shape[0]

    planted = {
        "cross_entropy": unshifted_softmax,
        "squared_error": divided_first,
        "binary_cross_entropy": sigmoid_in_float32,
    }
    for name, grad in planted.items():
        result = check_loss_grad(name, grad)
        assert result.over > 0, table(f"planted: {grad.__name__}", [result], MAX_ULP)


def test_loss_checker_reports_a_mean_summed_in_float32() -> None:
    def E_in_float32(h: np.ndarray, y: np.ndarray) -> float:
        return float(
            LOSSES["squared_error"].per_example(h, y).astype(np.float32).sum() / h.shape[0]
        )

    result = check_loss_value("squared_error", E_in_float32)
    assert result.over > 0, table("planted: float32 sum", [result], MAX_ULP)


def main() -> None:
    """Print the tables of worst errors (python -m reference.tests.test_accuracy)."""
    print(table("phi", [check_phi(n, a.phi) for n, a in ACTIVATIONS.items()], MAX_ULP))
    print(table("dphi", [check_dphi(n, a.dphi) for n, a in ACTIVATIONS.items()], MAX_ULP))
    print(
        table(
            "float32 dphi",
            [check_dphi(n, a.dphi, np.float32, FLOAT32_MAX_ULP) for n, a in ACTIVATIONS.items()],
            FLOAT32_MAX_ULP,
        )
    )
    rows = [r for name, loss in LOSSES.items() for r in check_loss(name, loss)]
    print(table("losses", rows, MAX_ULP))
    print(f"exp_dd: worst relative error 2^{np.log2(exp_dd_errors(exp_points()).max()):.1f}")


if __name__ == "__main__":
    main()
