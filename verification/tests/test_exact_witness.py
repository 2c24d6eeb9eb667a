"""Tests of the exact witness (verification/oracles/exact/).

The witness is checked against an independent oracle: backprop written entry by entry in
mpmath at MP_DIGITS decimal digits with the textbook formulas (1 - tanh^2, sigma (1 - sigma),
softmax - onehot, gelu_tanh' by mpmath's numerical differentiation), which share no formula
with the witness's rewritten ones. Each value of mpmath is rounded to float64 exactly
(dyadic_to_float64 of its mantissa and exponent, mpmath's own float() truncates), and must equal
the witness's resolved value; mpmath's value must also lie in the witness's ball. The same
checker is shown to fail on a planted wrong derivative.
"""

import itertools
from decimal import Decimal, localcontext

import mpmath
import numpy as np
import pytest
from flint import arb

import reference
from reference import Architecture
from verification.cases import CaseOptions, draw_case
from verification.oracles import exact as ew
from verification.oracles.exact import precision
from verification.oracles.tolerance import allowance

ONE_BALL = arb(1)
GELU_SLOPE = ew.ACTIVATIONS["gelu_tanh"].dphi  # the witness's own, before any planting
MP_DIGITS = 200  # 664 bits: far past float64's 53 and the witness's START_BITS
MP_TAIL_DIGITS = 1500  # textbook formulas in the deep tails cancel e^-1400 against 1
LEAKY = mpmath.mpf(0.01)  # the double 0.01, as the witness takes it


# --- the mpmath oracle -----------------------------------------------------------------------


def mp_sigmoid(t):
    return 1 / (1 + mpmath.exp(-t))


def mp_gelu(t):
    u = mpmath.sqrt(2 / mpmath.pi) * (t + mpmath.mpf(44715) / 10**6 * t**3)
    return t / 2 * (1 + mpmath.tanh(u))


MP_PHI = {
    "identity": lambda t: t,
    "sigmoid": mp_sigmoid,
    "tanh": mpmath.tanh,
    "relu": lambda t: t if t > 0 else mpmath.mpf(0),
    "leaky_relu": lambda t: t if t > 0 else LEAKY * t,
    "softplus": lambda t: mpmath.log(1 + mpmath.exp(t)),
    "elu": lambda t: t if t > 0 else mpmath.exp(t) - 1,
    "gelu_tanh": mp_gelu,
}
MP_DPHI = {
    "identity": lambda t: mpmath.mpf(1),
    "sigmoid": lambda t: mp_sigmoid(t) * (1 - mp_sigmoid(t)),
    "tanh": lambda t: 1 - mpmath.tanh(t) ** 2,
    "relu": lambda t: mpmath.mpf(1 if t > 0 else 0),  # relu'(0) = 0
    "leaky_relu": lambda t: mpmath.mpf(1) if t > 0 else LEAKY,  # leaky_relu'(0) = 0.01
    "softplus": mp_sigmoid,
    "elu": lambda t: mpmath.mpf(1) if t > 0 else mpmath.exp(t),  # elu'(0) = 1
    "gelu_tanh": lambda t: mpmath.diff(mp_gelu, t),
}


def mp_loss(loss, h, y):
    """(E, dE/dh^L) with the textbook formulas (docs/contract.md, section 3), h an (n, n_L) mpf
    array."""
    n, width = h.shape
    if loss == "squared_error":
        d = h - y
        return sum(d.ravel() ** 2) / 2 / n, d / n
    if loss == "cross_entropy":
        E, g = mpmath.mpf(0), np.empty(h.shape, dtype=object)
        for i in range(n):
            top = max(h[i])
            e = [mpmath.exp(h[i, j] - top) for j in range(width)]
            total = sum(e)
            E += top + mpmath.log(total) - h[i, y[i]]
            for j in range(width):
                g[i, j] = (e[j] / total - (1 if j == y[i] else 0)) / n
        return E / n, g
    softplus = np.frompyfunc(MP_PHI["softplus"], 1, 1)
    sigma = np.frompyfunc(mp_sigmoid, 1, 1)
    return sum((softplus(h) - y * h).ravel()) / n, (sigma(h) - y) / n


def mp_backprop(arch, params, x, y, digits=MP_DIGITS):
    """Every quantity of the seed in mpmath, entry by entry: dicts keyed by l, like Backprop."""
    with mpmath.workdps(digits):
        mp = np.frompyfunc(mpmath.mpf, 1, 1)
        L = arch.L
        h, z = {0: mp(x)}, {}
        for l in range(1, L + 1):
            W, b = params[l - 1]  # layer l is params[l - 1]
            z[l] = h[l - 1].dot(mp(W)) + mp(b)
            h[l] = np.frompyfunc(MP_PHI[arch.activations[l - 1]], 1, 1)(z[l])
        y_mp = y if arch.loss == "cross_entropy" else mp(y)
        E, g = mp_loss(arch.loss, h[L], y_mp)
        dphi = {l: np.frompyfunc(MP_DPHI[arch.activations[l - 1]], 1, 1) for l in z}
        delta = {L: dphi[L](z[L]) * g}
        for l in range(L, 1, -1):
            delta[l - 1] = dphi[l - 1](z[l - 1]) * delta[l].dot(mp(params[l - 1][0]).T)
        grad_W = {l: h[l - 1].T.dot(delta[l]) for l in delta}
        grad_b = {l: delta[l].sum(axis=0) for l in delta}
    return {"E": {0: np.array(E)}, "z": z, "h": h, "delta": delta}, grad_W, grad_b


def mp_man_exp(v) -> tuple[int, int]:
    """v = man 2^exp exactly (mpmath.mpf(v) would round v to the current precision)."""
    if not isinstance(v, mpmath.mpf):
        v = mpmath.mpf(v)  # a small int from the oracle's textbook formulas: exact
    sign, man, exp, _ = v._mpf_  # mpf.man_exp drops the sign
    return (-1) ** sign * int(man), int(exp)


def mp_to_float64(v) -> float:
    return ew.dyadic_to_float64(*mp_man_exp(v))


def mp_in_ball(v, ball: arb, digits: int) -> bool:
    """Does the ball meet mpmath's value, widened by mpmath's own error?

    That error is relative to the terms of the textbook formulas, which are at most about 1e6
    here, and not to the result (1 - sigma(1e6) is 0 in mpmath): 10^-(digits - 20) absolute,
    plus 10^-(digits - 10) relative.
    """
    man, exp = mp_man_exp(v)
    bits = int((digits - 20) * 3.32)
    slack = arb((1, -bits)) + abs(arb((man, exp))) * arb((1, -bits + 33))
    return ball.overlaps(arb((man, exp)) + arb(0, slack.upper()))


def mismatches(witness: ew.ExactBackprop, oracle, digits: int = MP_DIGITS) -> list[str]:
    """Every entry where the witness and mpmath disagree: unresolved, a value that is not
    mpmath's rounded to float64, or a ball that misses mpmath's value."""
    quantities, grad_W, grad_b = oracle
    pairs = [(witness.E, quantities["E"][0])]
    for name in ("z", "h", "delta"):
        for l, exact in getattr(witness, name).items():
            pairs.append((exact, quantities[name][l]))
    pairs += [(witness.grad_W[l], grad_W[l]) for l in grad_W]
    pairs += [(witness.grad_b[l], grad_b[l]) for l in grad_b]
    found = []
    for exact, mp_values in pairs:
        for index in np.ndindex(exact.shape):
            v = mp_values[index]
            want = mp_to_float64(v)
            if not exact.resolved[index]:
                found.append(f"{exact.describe(index)}: unresolved, mpmath gives {want!r}")
            elif exact.value[index] != want:
                found.append(
                    f"{exact.describe(index)}: = {exact.value[index]!r}, but mpmath gives {want!r}"
                )
            elif not mp_in_ball(v, exact.ball(index), digits):
                found.append(f"{exact.describe(index)}: ball misses mpmath's {mpmath.nstr(v, 25)}")
    return found


# --- small networks ----------------------------------------------------------------------------


def network(activations, loss, sizes, n, seed=0, scale=1.0):
    """A small case: arch, params (W ~ N(0, scale^2 / n_{l-1}), b ~ N(0, 0.25)), x, y."""
    rng = np.random.default_rng(seed)
    arch = Architecture(sizes=sizes, activations=activations, loss=loss)
    params = [
        (rng.standard_normal((m, k)) * scale / np.sqrt(m), 0.5 * rng.standard_normal(k))
        for m, k in itertools.pairwise(sizes)
    ]
    x = rng.standard_normal((n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], n)
    elif loss == "binary_cross_entropy":
        y = np.where(rng.random((n, sizes[-1])) < 0.3, 1.0, rng.random((n, sizes[-1])))
    else:
        y = rng.standard_normal((n, sizes[-1]))
    return arch, params, x, y


ACTIVATION_NAMES = tuple(ew.ACTIVATIONS)
LOSS_NAMES = tuple(ew.LOSSES)


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_every_quantity_is_mpmath_rounded_to_float64(activation, loss):
    # the activation in both layers: hidden, and output (where the loss meets it)
    arch, params, x, y = network((activation, activation), loss, (3, 4, 3), n=3, scale=2.0)
    witness = ew.exact_backprop(arch, params, x, y)
    assert witness.resolved, witness.unresolved()
    assert mismatches(witness, mp_backprop(arch, params, x, y)) == []


@pytest.mark.parametrize(
    "wrong",
    [
        ("tanh", lambda t: t.sech()),  # sech instead of sech^2
        ("sigmoid", lambda t: 1 / (1 + (-t).exp())),  # sigma instead of sigma'
        ("gelu_tanh", lambda t: GELU_SLOPE(t) * 1.001),
        ("elu", lambda t: ONE_BALL if t > 0 else t.expm1()),  # e^t - 1 instead of e^t
    ],
    ids=["tanh-sech", "sigmoid-sigma", "gelu-scaled", "elu-expm1"],
)
def test_a_planted_wrong_derivative_fails_the_mpmath_check(monkeypatch, wrong):
    name, dphi = wrong
    arch, params, x, y = network((name, "identity"), "squared_error", (2, 3, 2), n=2, scale=2.0)
    planted = ew.BallActivation(name, ew.ACTIVATIONS[name].phi, dphi)
    monkeypatch.setitem(ew.ACTIVATIONS, name, planted)
    found = mismatches(ew.exact_backprop(arch, params, x, y), mp_backprop(arch, params, x, y))
    assert any("delta^1" in line for line in found), found
    assert not any(line.startswith(("z^", "h^", "E ")) for line in found), found


def test_a_planted_wrong_slope_breaks_no_forward_quantity_but_every_gradient_below_it(
    monkeypatch,
):
    arch, params, x, y = network(("tanh", "tanh", "identity"), "cross_entropy", (2, 3, 3, 2), n=2)
    monkeypatch.setitem(
        ew.ACTIVATIONS,
        "tanh",
        ew.BallActivation("tanh", ew.ACTIVATIONS["tanh"].phi, lambda t: t.sech()),
    )
    found = mismatches(ew.exact_backprop(arch, params, x, y), mp_backprop(arch, params, x, y))
    assert any(line.startswith("dE/dW^1") for line in found), found
    assert not any(line.startswith(("dE/dW^3", "delta^3")) for line in found), found


# --- correct rounding, on values built at the boundaries ----------------------------------------


def decimal_to_float64(man: int, exp: int) -> float:
    """man 2^exp through its exact decimal expansion and Python's correctly rounded float(str):
    a route to float64 independent of integer division."""
    value = Decimal(man) * Decimal(2) ** exp if exp >= 0 else Decimal(man) / Decimal(2) ** -exp
    return float(str(value))


def boundary_dyadics():
    """(man, exp) at and around the rounding boundaries of float64, both signs."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(300):
        e = int(rng.integers(-1130, 1030))
        m = int(rng.integers(2**52, 2**53))
        for offset in (0, 1, -1, 2**20):  # m + 1/2 (a tie) and its neighbours at 2^-30 ulp
            out.append(((2 * m + 1) * 2**30 + offset, e - 31))
    out += [(1, -1075), (3, -1075), (1, -1076), (3, -1076), (2**40 + 1, -1115), (1, 1024)]
    out += [(2**53 - 1, 971), (2**54 - 1, 970), (2**124 - 2**70 - 1, 900)]  # around overflow
    return out + [(-m, e) for m, e in out]


def test_dyadic_rounding_agrees_with_decimal_conversion_at_ties_and_subnormals():
    with localcontext() as decimals:
        decimals.prec = 1200  # every digit of man 2^exp: 2^-1161 has 812 significant digits
        for man, exp in boundary_dyadics():
            want = decimal_to_float64(man, exp)
            got = ew.dyadic_to_float64(man, exp)
            assert got == want and np.signbit(got) == np.signbit(want), (man, exp, got, want)


def test_float_conversion_of_arb_agrees_with_exact_rounding():
    with ew.working_precision(256):
        for man, exp in boundary_dyadics():
            point = arb((man, exp))
            got, want = precision._nearest_float64(point), ew.dyadic_to_float64(man, exp)
            assert got == want and np.signbit(got) == np.signbit(want), (man, exp, got, want)


def test_the_integer_fallback_rounds_a_whole_case_alike(monkeypatch):
    # used if python-flint's float() ever fails the import-time check
    arch, params, x, y = network(("gelu_tanh", "sigmoid"), "binary_cross_entropy", (3, 4, 2), 3)
    fast = ew.exact_backprop(arch, params, x, y)
    monkeypatch.setattr(precision, "_nearest_float64", precision._exact_float)
    slow = ew.exact_backprop(arch, params, x, y)
    for a, b in zip(fast.arrays(), slow.arrays(), strict=True):
        assert np.array_equal(a.value, b.value) and np.array_equal(a.resolved, b.resolved)


def test_exact_tie_rounds_to_even_and_a_perturbed_tie_to_its_side():
    with ew.working_precision(256):
        tie = arb(1) + arb(2) ** -53  # between 1 (even) and 1 + 2^-52
        tiny = arb(2) ** -200
        assert ew.round_ball(tie) == 1.0
        assert ew.round_ball(tie + tiny) == 1.0 + 2.0**-52
        assert ew.round_ball(tie - tiny) == 1.0
        assert ew.round_ball(arb(tie, 2.0**-200)) is None  # straddles the tie


def test_subnormal_tie_and_overflow_round_like_ieee():
    with ew.working_precision(256):
        assert ew.round_ball(arb((3, -1075))) == 2.0**-1073  # tie to the even 2 * 2^-1074
        assert ew.round_ball(arb((1, -1075))) == 0.0
        assert ew.round_ball(arb((2**54 - 1, 970))) == np.inf  # the tie past the largest double


def test_zeros_compare_as_values_and_keep_a_certain_sign():
    with ew.working_precision(128):
        zero = ew.round_ball(arb(0))
        assert zero == 0.0 and not np.signbit(zero)  # an exact zero is +0.0
        around = ew.round_ball(arb(0, (1, -2000)))  # rounds to -0.0 or +0.0: the value 0
        assert around == 0.0 and not np.signbit(around)
        assert ew.round_ball(arb(0, (1, -1074))) is None  # reaches the least subnormal
        below = ew.round_ball(arb((-1, -1200), (1, -1300)))  # negative, far below 2^-1075
        assert below == 0.0 and np.signbit(below)


def test_a_zero_reached_through_inexact_terms_resolves_once_its_ball_is_subnormal_small():
    # two equal rows: h^1 is the same inexact tanh ball in both, and the output deltas are
    # +1/4 and -1/4 (sigma(0) - y, y = 0 and 1, over n = 2), so dE/dW^2[k, 0] = 0 exactly,
    # as a ball of radius ~2^-p around 0; below 2^-1075 (p = 2048) it rounds to 0 at both ends
    arch = Architecture(
        sizes=(2, 2, 1), activations=("tanh", "identity"), loss="binary_cross_entropy"
    )
    params = [
        (np.array([[0.7, -0.4], [0.2, 0.9]]), np.array([0.1, -0.3])),
        (np.zeros((2, 1)), np.zeros(1)),
    ]
    x, y = np.array([[0.3, -0.2], [0.3, -0.2]]), np.array([[0.0], [1.0]])
    witness = ew.exact_backprop(arch, params, x, y, need=ew.GRADIENTS)
    assert witness.bits_tried[-1] == 2048 and witness.resolved
    assert (witness.grad_W[2].value == 0.0).all() and not witness.grad_W[2].ball((0, 0)).is_zero()
    assert mismatches(witness, mp_backprop(arch, params, x, y)) == []


def test_a_batch_mean_on_a_float64_tie_is_exact_and_rounds_to_even():
    # dE/db = sum_i (h_i - y_i) / 3 with every h_i - y_i = 1 + 2^-53 exactly: the tie between
    # 1 (even) and 1 + 2^-52. The sum is 3 (1 + 2^-53), its mean the tie itself, exactly;
    # summing the (h_i - y_i) / 3 instead would straddle the tie at every precision.
    arch = Architecture(sizes=(1, 1), activations=("identity",), loss="squared_error")
    params = [(np.zeros((1, 1)), np.array([1.0]))]
    x, y = np.zeros((3, 1)), np.full((3, 1), -(2.0**-53))
    witness = ew.exact_backprop(arch, params, x, y)
    assert witness.bits_tried == (128,)
    assert witness.grad_b[1].ball((0,)).is_exact()
    assert witness.grad_b[1].value[0] == 1.0
    assert mismatches(witness, mp_backprop(arch, params, x, y)) == []


# --- kinks -------------------------------------------------------------------------------------


def kinked_network(activation):
    """L = 2, x and W^1 small dyadic, b^1 placing z^1[0, 0] and z^1[1, 2] exactly at 0."""
    x = np.array([[1.0, 2.0], [0.5, -1.5]])
    W1 = np.array([[1.0, -0.5, 0.5], [0.5, 1.0, -1.0]])
    z1 = x @ W1
    b1 = np.array([-z1[0, 0], 0.25, -z1[1, 2]])
    W2 = np.array([[0.7], [-1.3], [0.9]])
    arch = Architecture(sizes=(2, 3, 1), activations=(activation, "identity"), loss="squared_error")
    return arch, [(W1, b1), (W2, np.array([0.1]))], x, np.array([[0.3], [-0.2]])


@pytest.mark.parametrize(
    "activation, slope, other_side",
    [("relu", 0.0, 1.0), ("leaky_relu", 0.01, 1.0), ("elu", 1.0, 0.01)],
)
def test_unit_exactly_at_its_kink_takes_the_contract_slope(activation, slope, other_side):
    arch, params, x, y = kinked_network(activation)
    witness = ew.exact_backprop(arch, params, x, y)
    W2 = params[1][0]
    with ew.working_precision(witness.bits):
        for i, j in ((0, 0), (1, 2)):
            assert witness.z[1].ball((i, j)).is_zero()  # a ball of radius 0 at 0
            upstream = witness.delta[2].ball((i, 0)) * W2[j, 0]  # delta^2 (W^2)^T at (i, j)
            delta = witness.delta[1].ball((i, j))
            assert delta.overlaps(arb(slope) * upstream)
            assert not delta.overlaps(arb(other_side) * upstream)
    assert mismatches(witness, mp_backprop(arch, params, x, y)) == []


def straddling_network(activation):
    """z^2 = tanh(u) - tanh(u) = 0 exactly, but as a ball of radius > 0: two equal tanh units
    of layer 1 enter the unit of layer 2 with weights +1 and -1."""
    x = np.array([[0.3, -0.7]])
    W1, b1 = np.array([[1.0, 1.0], [0.5, 0.5]]), np.array([0.1, 0.1])
    W2, b2 = np.array([[1.0], [-1.0]]), np.array([0.0])
    W3, b3 = np.array([[2.0]]), np.array([0.5])
    arch = Architecture(
        sizes=(2, 2, 1, 1), activations=("tanh", activation, "identity"), loss="squared_error"
    )
    # y = 0.125: h^3 - y = 0.375 + (a ball of radius ~2^-250 above 0) stays clear of the ties
    # of float64 (with y = 0.1 it would straddle one, since 0.5 - fl(0.1) is a tie)
    return arch, [(W1, b1), (W2, b2), (W3, b3)], x, np.array([[0.125]])


def test_ball_straddling_a_relu_kink_leaves_everything_below_its_slope_unresolved():
    arch, params, x, y = straddling_network("relu")
    witness = ew.exact_backprop(arch, params, x, y, max_bits=256)
    assert witness.bits_tried == (128, 256) and not witness.resolved
    z2 = witness.z[2].ball((0, 0))
    assert z2.contains(0) and not z2.is_zero()
    for quantity in (witness.delta[2], witness.delta[1], witness.grad_W[1], witness.grad_b[1]):
        assert not quantity.resolved.any(), quantity.name
    # delta^2 = relu'(z^2) delta^3 W^3: its ball holds both sides, 0 (slope 0) and delta^3 W^3
    # (slope 1), and still decides within() for a value far off both
    g = witness.delta[3].value[0, 0] * params[2][0][0, 0]
    assert g > 0 and witness.delta[3].resolved.all()
    assert witness.delta[2].lower[0, 0] <= 0 and witness.delta[2].upper[0, 0] >= 0.999 * g
    assert witness.delta[2].within(np.array([[10 * g]]), 1e-3).outside.all()
    halfway = witness.delta[2].within(np.array([[g / 2]]), g / 4)  # the ball reaches past both
    assert halfway.undecided.all()


def test_ball_straddling_the_elu_kink_resolves_its_continuous_slope():
    arch, params, x, y = straddling_network("elu")
    witness = ew.exact_backprop(arch, params, x, y, max_bits=256)
    oracle = mp_backprop(arch, params, x, y)
    assert witness.delta[2].resolved.all() and witness.delta[1].resolved.all()
    assert witness.delta[2].value[0, 0] == mp_to_float64(oracle[0]["delta"][2][0, 0])
    assert not witness.h[2].resolved.all()  # elu(0) = 0 through inexact terms: sign unknown


def test_exact_zero_pre_activation_through_a_zero_column_is_exact():
    # z^2_j = h^1 W^2_{:, j} + 0 with W^2_{:, j} = 0 and h^1 = tanh(...) inexact: still exact 0
    arch, params, x, y = network(("tanh", "relu"), "squared_error", (2, 3, 2), n=2)
    W2, _ = params[1]
    W2[:, 1] = 0.0
    params[1] = (W2, np.zeros(2))
    witness = ew.exact_backprop(arch, params, x, y)
    assert all(witness.z[2].ball((i, 1)).is_zero() for i in range(2))
    assert witness.resolved
    assert mismatches(witness, mp_backprop(arch, params, x, y)) == []


# --- the deep tails ----------------------------------------------------------------------------


def single_layer(activation, loss, z, y):
    """L = 1, n_0 = 1: x = 1, W = 1, b = z, so that z^1 = z exactly."""
    z = np.asarray(z, dtype=np.float64)
    arch = Architecture(sizes=(1, z.size), activations=(activation,), loss=loss)
    return arch, [(np.ones((1, z.size)), z.copy())], np.ones((1, 1)), y


@pytest.mark.parametrize(
    "activation, loss, z, y",
    [
        ("tanh", "squared_error", [-260.0, 3.0], np.array([[0.5, 0.25]])),  # tanh' = 4e-226
        ("sigmoid", "squared_error", [-700.0, 30.0, 700.0], np.full((1, 3), 0.5)),  # 1e-304
        ("sigmoid", "squared_error", [-740.0], np.array([[1.0]])),  # sigma' ~ 4e-322: subnormal
        ("identity", "cross_entropy", [1e6, -1e6, 3.0], np.array([0])),  # logits of 1e6
        ("identity", "binary_cross_entropy", [1e6, -1e6], np.array([[1.0, 0.0]])),
        ("gelu_tanh", "squared_error", [-30.0, -9.0], np.array([[0.5, 0.25]])),  # phi' ~ e^-1000
        ("softplus", "binary_cross_entropy", [-700.0, 500.0], np.array([[0.3, 1.0]])),
        ("elu", "squared_error", [-745.0, 1.0], np.array([[0.5, 0.25]])),  # elu' = e^-745
    ],
    ids=[
        "tanh-260",
        "sigmoid-700",
        "sigmoid-subnormal",
        "ce-1e6",
        "bce-1e6",
        "gelu-30",
        "softplus",
        "elu-745",
    ],
)
def test_deep_tails_resolve_to_mpmath_values(activation, loss, z, y):
    arch, params, x, y = single_layer(activation, loss, z, y)
    witness = ew.exact_backprop(arch, params, x, y)
    assert witness.resolved, witness.unresolved()
    assert (
        mismatches(witness, mp_backprop(arch, params, x, y, MP_TAIL_DIGITS), MP_TAIL_DIGITS) == []
    )


def test_tiny_gradients_are_subnormal_and_measured_in_subnormal_ulps():
    arch, params, x, y = single_layer("sigmoid", "squared_error", [-740.0], np.array([[1.0]]))
    witness = ew.exact_backprop(arch, params, x, y)
    grad = witness.grad_b[1]
    assert 0 < -grad.value[0] < 2.0**-1022  # subnormal: sigma'(-740) (sigma(-740) - 1)
    three_off = grad.value + 3 * 2.0**-1074  # three subnormal steps away
    assert 2.5 <= grad.ulp_distance(three_off)[0] <= 3.5


def test_a_tie_perturbed_by_a_saturated_tanh_needs_more_bits_and_rounds_off_the_even_side():
    # h^1 = tanh(260) = 1 - 2e^-520 (1 + ...), z^2 = 2^-54 h^1 + (1 - 2^-53): exactly the tie
    # 1 - 2^-54 between 1 - 2^-53 (odd) and 1 (even), minus 2^-53 e^-520: rounds down, and
    # only a ball narrower than e^-520 ~ 2^-750 of it can tell.
    arch = Architecture(sizes=(1, 1, 1), activations=("tanh", "identity"), loss="squared_error")
    params = [
        (np.array([[1.0]]), np.array([259.0])),
        (np.array([[2.0**-54]]), np.array([1.0 - 2.0**-53])),
    ]
    x, y = np.array([[1.0]]), np.array([[0.0]])
    witness = ew.exact_backprop(arch, params, x, y)
    assert witness.bits_tried == (128, 256, 512, 1024)
    assert witness.z[2].value[0, 0] == 1.0 - 2.0**-53
    oracle = mp_backprop(arch, params, x, y, MP_TAIL_DIGITS)
    assert mismatches(witness, oracle, MP_TAIL_DIGITS) == []


# --- the helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_witness():
    arch, params, x, y = network(("tanh", "softplus", "identity"), "cross_entropy", (3, 5, 4, 3), 4)
    return ew.exact_backprop(arch, params, x, y)


def test_rounded_value_is_within_half_an_ulp_and_its_neighbours_beyond(plain_witness):
    for exact in plain_witness.arrays():
        value = exact.value
        assert (exact.ulp_distance(value) <= 0.5).all(), exact.name
        for direction in (-np.inf, np.inf):  # 0.5 only if the exact value is a tie
            assert (exact.ulp_distance(np.nextafter(value, direction)) >= 0.5).all(), exact.name


def test_within_decides_on_the_ball(plain_witness):
    grad = plain_witness.grad_W[1]
    value, ulp = grad.value, np.spacing(np.abs(grad.value))
    assert grad.within(value + 2 * ulp, 3 * ulp).inside.all()
    assert grad.within(value + 4 * ulp, 3 * ulp).outside.all()
    assert grad.within(np.full(grad.shape, np.nan), 1.0).outside.all()
    exactly_at = grad.within(value, 0.0)  # proved only where the exact value is a double
    assert not exactly_at.inside.any() and exactly_at.outside.all()


def test_bounds_enclose_the_rounded_values(plain_witness):
    for exact in plain_witness.arrays():
        assert (exact.lower <= exact.value).all() and (exact.value <= exact.upper).all()


def test_need_gradients_stops_when_the_gradients_resolve():
    # z^2 = tanh(u) - tanh(u) at the identity output: z^2 and h^2 are a 0 reached through
    # inexact terms, unresolved at every precision, but h^L enters no gradient, and
    # delta^2 = (h^2 - y) / n is far from 0
    x = np.array([[0.3, -0.7]])
    W1, b1 = np.array([[1.0, 1.0], [0.5, 0.5]]), np.array([0.1, 0.1])
    W2, b2 = np.array([[1.0], [-1.0]]), np.array([0.0])
    arch = Architecture(sizes=(2, 2, 1), activations=("tanh", "identity"), loss="squared_error")
    params, y = [(W1, b1), (W2, b2)], np.array([[0.3]])
    gradients_only = ew.exact_backprop(arch, params, x, y, need=ew.GRADIENTS)
    assert gradients_only.bits_tried == (128,) and gradients_only.resolved
    everything = ew.exact_backprop(arch, params, x, y, max_bits=512)
    assert everything.bits_tried == (128, 256, 512) and not everything.resolved
    assert not everything.z[2].resolved.any()


def test_bad_inputs_name_the_layer_and_the_quantity():
    arch, params, x, y = network(("tanh", "identity"), "squared_error", (2, 3, 2), n=2)
    with pytest.raises(ValueError, match=r"layer 2: W has shape \(3, 1\), but should be \(3, 2\)"):
        ew.exact_backprop(arch, [params[0], (params[1][0][:, :1], params[1][1])], x, y)
    with pytest.raises(TypeError, match="layer 1: b has type float32"):
        ew.exact_backprop(arch, [(params[0][0], params[0][1].astype(np.float32)), params[1]], x, y)
    with pytest.raises(ValueError, match="need names"):
        ew.exact_backprop(arch, params, x, y, need=("grad_w",))


# --- against the reference ---------------------------------------------------------------------


REFERENCE_CASES = 300


def test_a_gradient_off_by_a_relative_1e_12_is_proved_beyond_its_allowance():
    # the allowance is about 1e-14 relative for a plain case: the check can fail
    case = draw_case(0, 2, CaseOptions())
    assert case.regime == "plain"
    args = (case.arch, case.params, case.x, case.y)
    witness = ew.exact_backprop(*args, need=ew.GRADIENTS)
    (got_W, _), (A_W, _) = reference.gradients(*args)[0], allowance(*args)[0]
    assert witness.grad_W[1].within(got_W, A_W).inside.all()
    assert witness.grad_W[1].within(got_W * (1 + 1e-12), A_W).outside.any()


def test_reference_is_within_its_allowance_of_the_exact_gradients():
    # verification.tolerance: a correct float64 implementation differs from the exact gradient
    # by at most its allowance A, entrywise; no entry may be proved beyond it
    beyond = []
    for index in range(REFERENCE_CASES):
        case = draw_case(0, index, CaseOptions())
        args = (case.arch, case.params, case.x, case.y)
        witness = ew.exact_backprop(*args, need=ew.GRADIENTS)
        for (got_W, got_b), (A_W, A_b), (exact_W, exact_b) in zip(
            reference.gradients(*args), allowance(*args), witness.grads, strict=True
        ):
            for got, A, exact in ((got_W, A_W, exact_W), (got_b, A_b, exact_b)):
                for where in zip(*np.nonzero(exact.within(got, A).outside), strict=True):
                    beyond.append(
                        f"case {index}: {exact.describe(where)}, reference "
                        f"{got[where]!r}, allowance {A[where]:.3g}"
                    )
    assert beyond == []
