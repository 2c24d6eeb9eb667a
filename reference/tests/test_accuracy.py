"""Accuracy of every dphi and every dE/dh^L against mpmath at 50 digits (README.md, "Testing").

The exact values come from the definitions of docs/contract.md, sections 2 and 3, evaluated
by mpmath at mp.dps = 50: they never call the code under test. An error is counted in ULP of a
scale, the ULP of x being np.spacing(|x|) (2^-1074 for a subnormal or zero x):

    activations  scale = |exact phi'(z)|, except gelu_tanh, whose phi' crosses zero: there the
                 scale is max(|exact|, |sigma(v)|, |z v'(z) sigma'(v)|), the largest term of
                 phi'(z) = sigma(v) + z v'(z) sigma'(v), v = 2 sqrt(2/pi) (z + 0.044715 z^3);
    losses       scale = max(|exact dE/dh^L|, 1/n).

The grid: log-spaced magnitudes of both signs out to 700, uniform points in [-40, 40], subnormal
and tiny z, and the points (with their float neighbours) where an implementation switches
formula or where exp(-t) turns subnormal or underflows. The dev and ci profiles run a few
thousand points per function; HYPOTHESIS_PROFILE=thorough runs a grid THOROUGH_DENSITY times
denser. Each checker below is also run on a planted wrong derivative, to show it can fail.
"""

import functools
import os
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
)
from reference.losses import LOSSES
from reference.types import Array

DPS = 50  # mpmath digits for the exact values: far beyond float64's 16, so they are exact here
MAX_ULP = 4.0  # README.md, "Testing": every dphi and dE/dh^L within 4 ULP of its scale
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
THOROUGH_DENSITY = 8  # how much denser the grid is under HYPOTHESIS_PROFILE=thorough
DENSITY = THOROUGH_DENSITY if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1

# Complex step: phi(z + i s) = phi(z) + i s phi'(z) + O(s^2), with no subtraction, so
# Im phi(z + i s) / s is phi'(z) up to the rounding of phi's complex evaluation. s = 1e-200
# makes the O(s^2) term vanish against any phi'(z) above 1e-100.
COMPLEX_STEP = 1e-200
# The rounding of the complex evaluation. gelu_tanh's phi evaluates v = 2 sqrt(2/pi)(z + 0.044715
# z^3) in plain float64, off by up to about 4 u |v| (u = 2^-53, half a dozen roundings), and in
# the tail phi' ~ e^-|v| turns that into the same relative error. Only where phi' > ATOL below
# does it count, which keeps |v| under about 250: 4 u 250 = 1.1e-13 (measured: 4.6e-14 at
# z = -14.18). The other phi lose a few u at most (measured: 6.6e-16, tanh).
COMPLEX_STEP_RTOL = 2e-13
# Below tiny / s, Im phi(z + i s) is subnormal or zero: it keeps only an absolute accuracy of a
# few tiny. This is the only place where a tail derivative is not compared relatively.
COMPLEX_STEP_ATOL = 4 * np.finfo(np.float64).tiny / COMPLEX_STEP

LOSS_BATCH_SIZES = (1, 7, 64)  # n in the 1/n of dE/dh^L and of the scale max(|exact|, 1/n)
# Where e / (1 + e)^2 evaluated as e / ((1 + e) * (1 + e)) misses 4 ULP: 4.29 ULP for sigma'(z)
# = e / (1 + e)^2 with e = e^-|z|, 4.18 ULP for tanh'(z) = 4 e / (1 + e)^2 with e = e^-2|z|.
SQUARED_DENOMINATOR_MISSES = {
    "sigmoid": 6.237925268210862,
    "tanh": 2.4224247905481846,
}


# --- the exact values (docs/contract.md, sections 2 and 3, in mpmath) -----------------------


def _sigma(t: mpf) -> mpf:
    """sigma(t) = 1 / (1 + e^-t)."""
    return 1 / (1 + mp.exp(-t))


def _gelu_constants() -> tuple[mpf, mpf]:
    """C = 2 sqrt(2/pi) and A = 0.044715 C, so v = 2 sqrt(2/pi)(z + 0.044715 z^3) = C z + A z^3."""
    C = 2 * mp.sqrt(2 / mp.pi)
    return C, C * mpf("0.044715")


def _exact_dphi(name: str, z: mpf) -> tuple[mpf, mpf]:
    """(phi'(z), scale) from CONTRACT section 2, with PyTorch's values at the kinks."""
    if name == "identity":
        d = mpf(1)
    elif name == "sigmoid":
        d = _sigma(z) * _sigma(-z)
    elif name == "tanh":
        d = mp.sech(z) ** 2
    elif name == "relu":
        d = mpf(1) if z > 0 else mpf(0)
    elif name == "leaky_relu":
        d = mpf(1) if z > 0 else mpf("0.01")
    elif name == "softplus":
        d = _sigma(z)
    elif name == "elu":
        d = mpf(1) if z > 0 else mp.exp(z)
    elif name == "gelu_tanh":
        C, A = _gelu_constants()
        v = C * z + A * z**3
        level = _sigma(v)
        slope = z * (C + 3 * A * z**2) * _sigma(v) * _sigma(-v)
        d = level + slope
        return d, max(abs(d), abs(level), abs(slope))
    else:
        raise ValueError(f"activation {name!r} has no exact derivative in this test")
    return d, abs(d)


@dataclass(frozen=True)
class Exact:
    """Exact values on a grid, each as hi + lo (two floats), and the scale of its ULP."""

    hi: np.ndarray
    lo: np.ndarray
    scale: np.ndarray


def _to_float_pair(x: mpf) -> tuple[float, float]:
    """x = hi + lo + (a rest far below lo): hi the float nearest x, lo the float nearest x - hi."""
    hi = float(x)
    return hi, float(x - mpf(hi))


def _exact_table(values: Sequence[tuple[mpf, mpf]]) -> Exact:
    pairs = [(*_to_float_pair(d), float(s)) for d, s in values]
    hi, lo, scale = (np.array(column) for column in zip(*pairs, strict=True))
    return Exact(hi, lo, scale)


# --- the grid -------------------------------------------------------------------------------


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
    """The z where some dphi changes formula, loses range, or where torch loses its digits.

    exp(-t) turns subnormal at t = 1022 ln 2 and underflows to 0 near t = 1075 ln 2; t is |z|
    for sigmoid, softplus and elu, 2|z| for tanh, and |v(z)| for gelu_tanh. Also: the kinks at
    0; the reference's gelu_tanh cut-off at |z| = _GELU_TAIL and its switch to a scaled e^v at
    v = -_GELU_DEEP; where torch's float64 derivatives
    lose their digits (tanh ~19, sigmoid ~37, gelu_tanh ~-11) and its softplus threshold (20);
    the zero of gelu_tanh's phi'.
    """
    with mp.workdps(DPS):
        C, A = _gelu_constants()
        out = [0.0, _GELU_TAIL, -_GELU_TAIL, 19.0, -19.0, 37.0, -37.0, -11.0, 20.0, -20.0]
        out += [*SQUARED_DENOMINATOR_MISSES.values()]
        for t in (1022 * mp.ln(2), 1075 * mp.ln(2), mpf(_GELU_DEEP)):
            out += [float(t), -float(t), float(t / 2), -float(t / 2)]
            z_v = mp.findroot(lambda z, t=t: C * z + A * z**3 - t, 5)  # v(z) = t
            out += [float(z_v), -float(z_v)]

        def gelu_slope(z: mpf) -> mpf:
            return _exact_dphi("gelu_tanh", z)[0]

        out.append(float(mp.findroot(gelu_slope, -0.75)))
    return tuple(out)


@functools.cache
def activation_grid(dtype: type = np.float64) -> np.ndarray:
    """The z of the dense grid, sorted and unique, in the given float dtype."""
    magnitudes = np.geomspace(1e-8, 700, 1000 * DENSITY)
    tiny = np.geomspace(np.finfo(np.float64).smallest_subnormal, 1e-8, 80 * DENSITY)
    uniform = np.linspace(-40, 40, 1601 * DENSITY)
    zero_of_gelu_slope = _switch_points()[-1]
    near_zero_of_gelu_slope = zero_of_gelu_slope + np.linspace(-1e-3, 1e-3, 41)
    z = np.concatenate(
        [
            magnitudes,
            -magnitudes,
            tiny,
            -tiny,
            uniform,
            near_zero_of_gelu_slope,
            _neighbours(_switch_points()),
        ]
    )
    z = np.unique(z.astype(dtype))
    if dtype == np.float32:  # a coarser grid (the exhaustive scan is offline), and its worst z
        z = np.unique(np.concatenate([z[::2], np.array([*FLOAT32_WORST.values()], dtype)]))
    return z


@functools.cache
def exact_dphi(name: str, dtype: type = np.float64) -> Exact:
    """Exact phi' and its scale at every point of activation_grid(dtype)."""
    with mp.workdps(DPS):
        return _exact_table([_exact_dphi(name, mpf(float(z))) for z in activation_grid(dtype)])


# --- the checker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Worst:
    """The worst error of one function over its grid, in ULP of the scale."""

    name: str
    ulp: float
    where: str
    got: float
    exact: float
    over: int  # how many points exceed the bound
    points: int

    def row(self) -> str:
        return (
            f"{self.name:22s} {self.ulp:10.3g} {self.over:6d}/{self.points:<6d} "
            f"{self.where:34s} got={self.got:.17g}  exact={self.exact:.17g}"
        )


def ulp_errors(got: np.ndarray, exact: Exact, dtype: type = np.float64) -> np.ndarray:
    """|got - exact| in ULP of the scale (NaN where got is NaN or infinite)."""
    got = np.asarray(got, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        # got - hi is exact when got is near hi (Sterbenz); far from it, its rounding is moot.
        error = np.abs((got - exact.hi) - exact.lo)
        ulp = np.spacing(np.abs(exact.scale).astype(dtype)).astype(np.float64)
        return np.where(np.isfinite(got), error / ulp, np.nan)


def worst(
    name: str,
    errors: np.ndarray,
    got: np.ndarray,
    exact: Exact,
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
        exact=float(exact.hi[i]),
        over=int(np.count_nonzero(bad | (errors > bound))),
        points=errors.size,
    )


def check_dphi(
    name: str, dphi: Callable[[Array], Array], dtype: type = np.float64, max_ulp: float = MAX_ULP
) -> Worst:
    """The worst error of dphi over activation_grid(dtype) against the exact phi' of `name`."""
    z = activation_grid(dtype)
    got = dphi(z.copy())
    exact = exact_dphi(name, dtype)
    if got.dtype != dtype:
        where = f"dtype {got.dtype}, but should be {np.dtype(dtype)}"
        return Worst(name, np.inf, where, float(got[0]), float(exact.hi[0]), z.size, z.size)
    errors = ulp_errors(got, exact, dtype)
    return worst(name, errors, got, exact, lambda i: f"z = {float(z[i])!r}", max_ulp)


def table(title: str, rows: Sequence[Worst], bound: float) -> str:
    header = f"{'function':22s} {'worst ULP':>10s} {'over':>6s}/points {'at':34s} values"
    lines = [f"{title} (bound {bound:.10g} ULP)", header, *(r.row() for r in rows)]
    return "\n".join(lines)


def test_every_dphi_is_within_4_ulp_of_mpmath_on_the_dense_grid() -> None:
    rows = [check_dphi(name, a.dphi) for name, a in ACTIVATIONS.items()]
    assert all(r.over == 0 for r in rows), table("dphi against mpmath", rows, MAX_ULP)


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


def test_dphi_checker_reports_the_wrong_kink_convention() -> None:
    result = check_dphi("relu", lambda z: (z >= 0).astype(z.dtype))  # relu'(0) = 1, not 0
    assert result.over == 1 and result.where == "z = 0.0", table("planted", [result], MAX_ULP)


# --- gelu_tanh's double-double constants ----------------------------------------------------

# hi + lo carries about 107 bits: hi is the nearest float to the constant and lo the nearest
# to the rest, so |hi + lo - exact| <= ulp(lo) / 2 <= 2^-107 |exact| (a little more, as hi may
# round up) = 6.2e-33; 1e-32 allows that and nothing a wrong digit of lo would give.
DOUBLE_DOUBLE_RTOL = 1e-32


def double_double_error(hi: float, lo: float, exact: mpf) -> float:
    """|hi + lo - exact| / |exact|, at 60 digits."""
    with mp.workdps(60):
        return float(abs((mpf(hi) + mpf(lo)) - exact) / abs(exact))


def _gelu_constants_60() -> tuple[mpf, mpf]:
    with mp.workdps(60):
        return _gelu_constants()


def test_gelu_double_double_constants_match_mpmath_to_1e_32() -> None:
    C, A = _gelu_constants_60()
    for label, hi, lo, exact in (("C", _C_HI, _C_LO, C), ("A", _A_HI, _A_LO, A)):
        error = double_double_error(hi, lo, exact)
        assert error <= DOUBLE_DOUBLE_RTOL, (
            f"{label}: |hi + lo - exact| / exact = {error:.3g}, but should be <= "
            f"{DOUBLE_DOUBLE_RTOL:g} (hi={hi.hex()}, lo={lo.hex()}, exact={exact})"
        )
        assert abs(lo) <= np.spacing(hi) / 2, f"{label}: lo={lo!r} is not below ulp(hi) / 2"


def test_double_double_checker_reports_a_constant_without_its_low_part() -> None:
    C, _ = _gelu_constants_60()
    assert double_double_error(_C_HI, 0.0, C) > DOUBLE_DOUBLE_RTOL
    assert double_double_error(_C_HI, _C_LO * (1 + 2**-40), C) > DOUBLE_DOUBLE_RTOL


# --- the complex path -----------------------------------------------------------------------


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
    """activation_grid without the kink itself, with the scale of each phi' there."""
    z, scale = activation_grid(), exact_dphi(name).scale
    keep = z != ACTIVATIONS[name].kink
    return z[keep], scale[keep]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_complex_step_of_phi_agrees_with_dphi(name: str) -> None:
    a = ACTIVATIONS[name]
    z, scale = _off_kink_grid(name)
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
class LossGrid:
    """Rows of h^L (n_rows, n_L) and their targets y, with exact dE/dh^L entries for n = 1."""

    h: np.ndarray
    y: np.ndarray
    g: list[list[mpf]]  # exact n dE/dh^L, row by row


def _logits() -> np.ndarray:
    """Logits of every size, both signs: the activation grid and far beyond 1e3."""
    beyond = np.array([1e3, 745.2, 800.0, 1e4, 1e5, 1e10, 1e100, 1e300, 1.7e308])
    return np.concatenate([activation_grid()[::4], beyond, -beyond])


@functools.cache
def squared_error_grid() -> LossGrid:
    h = _logits()
    rng = np.random.default_rng(20)
    eps = np.finfo(np.float64).eps
    y = np.stack(
        [h * (1 + eps), h * (1 - 4 * eps), -h, np.zeros_like(h), rng.standard_normal(h.size)],
        axis=1,
    )
    keep = np.abs(h) < 1e300  # so that h - y stays finite
    h, y = np.broadcast_to(h[keep, None], y[keep].shape).copy(), y[keep]
    with mp.workdps(DPS):
        g = [
            [mpf(float(a)) - mpf(float(b)) for a, b in zip(hr, yr, strict=True)]
            for hr, yr in zip(h, y, strict=True)
        ]
    return LossGrid(h, y, g)


@functools.cache
def binary_cross_entropy_grid() -> LossGrid:
    h = _logits()
    with np.errstate(over="ignore"):
        near = np.where(
            h >= 0, 1 / (1 + np.exp(-np.abs(h))), np.exp(-np.abs(h)) / (1 + np.exp(-np.abs(h)))
        )
    y = np.stack(
        [
            np.zeros_like(h),
            np.ones_like(h),
            np.full_like(h, 0.5),
            np.full_like(h, 1 - 2**-53),
            near,
        ],
        axis=1,
    )
    h = np.broadcast_to(h[:, None], y.shape).copy()

    def exact(a: float, b: float) -> mpf:
        """sigma(a) - b, as (1 - b) - sigma(-a) for a > 0 so that 50 digits suffice."""
        a, b = mpf(a), mpf(b)
        return (1 - b) - _sigma(-a) if a > 0 else _sigma(a) - b

    with mp.workdps(DPS):
        g = [
            [exact(float(a), float(b)) for a, b in zip(hr, yr, strict=True)]
            for hr, yr in zip(h, y, strict=True)
        ]
    return LossGrid(h, y, g)


@functools.cache
def cross_entropy_grid() -> LossGrid:
    rng = np.random.default_rng(21)
    width = 4
    rows = []
    for scale in 10.0 ** np.arange(-3, 6):  # random logits up to magnitude 1e5
        rows.append(scale * rng.standard_normal((40 * DENSITY, width)))
    # one dominant logit: the label's probability within e^-a of 1, a up to 800
    for a in np.geomspace(1e-3, 800, 120 * DENSITY):
        rows.append(np.array([[a, 0.0, -a / 3, 0.5]]))
    for big in (1e3, 1e10, 1e300, 1.7e308):  # huge logits, both signs, in one row
        rows.append(np.array([[big, -big, big * (1 - 1e-15), 0.0], [big, big, -big, 1.0]]))
    h = np.concatenate(rows)
    y = np.resize(np.arange(width), h.shape[0])
    y[np.argmax(h, axis=1) == 0] = 0  # the dominant rows are labelled at the dominant logit

    def exact(row: np.ndarray, label: int) -> list[mpf]:
        """softmax(row) - onehot(label); at the label, -(sum of the others) / (sum of all)."""
        logits = [mpf(float(v)) for v in row]
        m = max(logits)
        e = [mp.exp(v - m) for v in logits]
        total = mp.fsum(e)
        g = [ek / total for ek in e]
        g[label] = -mp.fsum(ek for k, ek in enumerate(e) if k != label) / total
        return g

    with mp.workdps(DPS):
        g = [exact(row, int(label)) for row, label in zip(h, y, strict=True)]
    return LossGrid(h, y, g)


LOSS_GRIDS: dict[str, Callable[[], LossGrid]] = {
    "squared_error": squared_error_grid,
    "cross_entropy": cross_entropy_grid,
    "binary_cross_entropy": binary_cross_entropy_grid,
}


def check_loss_grad(name: str, grad: Callable[[Array, np.ndarray], Array]) -> Worst:
    """The worst dE/dh^L entry over the loss grid, cut into batches of n for n in
    LOSS_BATCH_SIZES, in ULP of max(|exact|, 1/n)."""
    grid = LOSS_GRIDS[name]()
    results = []
    for n in LOSS_BATCH_SIZES:
        rows = grid.h.shape[0] // n * n
        got = np.concatenate(
            [grad(grid.h[i : i + n].copy(), grid.y[i : i + n].copy()) for i in range(0, rows, n)]
        )
        with mp.workdps(DPS):
            values = [(gk / n, max(abs(gk / n), mpf(1) / n)) for row in grid.g[:rows] for gk in row]
        exact = _exact_table(values)
        errors = ulp_errors(got.ravel(), exact)
        width = grid.h.shape[1]

        def where(i: int, n: int = n, width: int = width) -> str:
            return f"n = {n}, row {i // width}, column {i % width}"

        results.append(worst(name, errors, got, exact, where))
    return max(results, key=lambda r: (np.isnan(r.ulp), r.ulp))


def test_every_loss_grad_is_within_4_ulp_of_mpmath_against_max_of_exact_and_1_over_n() -> None:
    rows = [check_loss_grad(name, loss.grad) for name, loss in LOSSES.items()]
    assert all(r.over == 0 for r in rows), table("dE/dh^L against mpmath", rows, MAX_ULP)


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
        with np.errstate(over="ignore", invalid="ignore"):
            result = check_loss_grad(name, grad)
        assert result.over > 0, table(f"planted: {grad.__name__}", [result], MAX_ULP)


def main() -> None:
    """Print the tables of worst errors (python -m reference.tests.test_accuracy)."""
    print(
        table(
            "dphi against mpmath", [check_dphi(n, a.dphi) for n, a in ACTIVATIONS.items()], MAX_ULP
        )
    )
    print(
        table(
            "float32 dphi against mpmath",
            [check_dphi(n, a.dphi, np.float32, FLOAT32_MAX_ULP) for n, a in ACTIVATIONS.items()],
            FLOAT32_MAX_ULP,
        )
    )
    print(
        table(
            "dE/dh^L against mpmath",
            [check_loss_grad(name, loss.grad) for name, loss in LOSSES.items()],
            MAX_ULP,
        )
    )


if __name__ == "__main__":
    main()


@pytest.mark.parametrize("x", [-700.0, -30.0, -1e-3, 0.0, 2.5, 30.0, 700.0])
def test_complex_softplus_keeps_the_real_part_accurate(x: float) -> None:
    """Re softplus(x + i h) is softplus(x) to a few ULP for a tiny step h, also in the tails
    (NumPy's own complex log1p loses 3 digits of it at x = -30)."""
    z = np.array([x + 1e-200j])
    with mp.workdps(50):
        exact = float(mp.log1p(mp.exp(mpf(x))))
    got = float(ACTIVATIONS["softplus"].phi(z).real[0])
    assert abs(got - exact) <= 4 * np.spacing(abs(exact)), (
        f"Re softplus({x} + 1e-200i) = {got!r}, but should be {exact!r}"
    )
