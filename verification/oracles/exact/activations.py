"""The activations of docs/contract.md, section 2 in ball arithmetic: phi and phi' of each on
one arb ball, each enclosing the exact image of the ball (BallActivation, the table ACTIVATIONS).

Where the formulas differ from the textbook, they avoid a cancellation that no affordable
precision would resolve (1 + tanh u in gelu_tanh at u = -1000 needs 2900 bits):
sigma'(t) = 1 / (2 + 2 cosh t), tanh'(t) = sech^2 t, and gelu_tanh(z) = z sigma(v) with
v = 2 sqrt(2/pi) (z + 0.044715 z^3) (since 1 + tanh(v/2) = 2 sigma(v)).

Kinks (docs/contract.md, section 2). A relu, leaky_relu or elu unit whose z is exactly 0 (a ball of
radius 0 at 0) takes the contract's slope: relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1.
A ball that contains 0 but is not exactly 0 takes a ball holding the slopes of both sides
(relu: [0, 1]; leaky_relu: [0.01, 1]): every quantity that depends on that slope by more than
its rounding then stays unresolved, and none is guessed; one that provably rounds the same for
either slope is resolved, rightly. elu' is continuous at 0 (only elu'' jumps), so its ball
there is narrow, [e^-r, 1], and resolves like any smooth unit's.

The leaky slope is the double 0.01 (0.01000000000000000020816681711721685...), not the real
1/100: it is the slope every float64 implementation multiplies by (PyTorch's
negative_slope=0.01 and the reference's LEAKY_SLOPE are that double), so the witness certifies
the function they are asked to compute. The real 1/100 would move every leaky gradient by a
relative 2.1e-17, a tenth to a fifth of an ULP, and flip some roundings for no fault of
theirs. The constants of gelu_tanh, on the other hand, are the real sqrt(2/pi) and 0.044715
(docs/contract.md, section 2), enclosed in balls at the working precision.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from flint import arb, ctx

from verification.oracles.exact.precision import working_precision

LEAKY_SLOPE = 0.01
"""The negative slope of leaky_relu: the double nearest 1/100, taken exactly (module docstring)."""

GELU_CUBIC = "8943/200000"
"""0.044715 of gelu_tanh, as an exact rational (the real constant, not its double)."""


@dataclass(frozen=True)
class BallActivation:
    """phi and dphi = phi' of one activation, each on one arb ball t, enclosing the exact
    image {phi(s) : s in t} (and {phi'(s)}); dphi is written in closed form."""

    name: str
    phi: Callable[[arb], arb]
    dphi: Callable[[arb], arb]


ONE = arb(1)
EITHER_RELU_SLOPE = arb(0.5, 0.5)  # [0, 1]: relu' on a ball around its kink, either side
EITHER_LEAKY_SLOPE = arb(LEAKY_SLOPE).union(ONE)  # about [0.01, 1]: leaky_relu' across 0


def _at_kink(t: arb) -> bool:
    """t is exactly 0: a ball of radius 0 at the kink, where the contract's convention holds."""
    return t.is_zero()


def _identity(t: arb) -> arb:
    return t


def _didentity(t: arb) -> arb:
    return ONE


def _sigmoid(t: arb) -> arb:
    """sigma(t) = 1 / (1 + e^-t)."""
    return 1 / (1 + (-t).exp())


def _dsigmoid(t: arb) -> arb:
    """sigma'(t) = sigma(t) sigma(-t) = 1 / (2 + e^t + e^-t) = 1 / (2 + 2 cosh t)."""
    return 1 / (2 + 2 * t.cosh())


def _tanh(t: arb) -> arb:
    return t.tanh()


def _dtanh(t: arb) -> arb:
    """tanh'(t) = sech^2 t (1 - tanh^2 t would cancel in the tails)."""
    return t.sech() ** 2


def _relu(t: arb) -> arb:
    """max(t, 0): arb's nonnegative_part encloses {max(s, 0) : s in t}, kink included (an
    exact 0 stays an exact 0)."""
    return t.nonnegative_part()


def _drelu(t: arb) -> arb:
    """1 if t > 0, 0 if t < 0 or t is exactly 0 (relu'(0) = 0), [0, 1] if t straddles 0."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return arb(0)
    return EITHER_RELU_SLOPE


def _leaky_relu(t: arb) -> arb:
    """t if t > 0 else 0.01 t; across 0 a ball holding both branches."""
    if t > 0 or _at_kink(t):
        return t
    if t < 0:
        return LEAKY_SLOPE * t
    return (LEAKY_SLOPE * t).union(t.nonnegative_part())


def _dleaky_relu(t: arb) -> arb:
    """1 if t > 0, 0.01 if t < 0 or exactly 0 (leaky_relu'(0) = 0.01), [0.01, 1] across 0."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return arb(LEAKY_SLOPE)
    return EITHER_LEAKY_SLOPE


def _elu(t: arb) -> arb:
    """t if t > 0 else e^t - 1; across 0 a ball holding both branches."""
    if t > 0:
        return t
    if t < 0 or _at_kink(t):
        return t.expm1()
    return t.expm1().union(t.nonnegative_part())


def _delu(t: arb) -> arb:
    """1 if t > 0, e^t if t <= 0 (elu'(0) = e^0 = 1); across 0 the ball of both, [e^-r, 1]."""
    if t > 0:
        return ONE
    if t < 0 or _at_kink(t):
        return t.exp()
    return t.exp().union(ONE)


def _softplus(t: arb) -> arb:
    """log(1 + e^t), exactly (no cut-off): log1p keeps its accuracy where e^t is tiny."""
    return t.exp().log1p()


@lru_cache(maxsize=16)
def _gelu_constants_at(bits: int) -> tuple[arb, arb]:
    with working_precision(bits):
        return (8 / arb.pi()).sqrt(), arb(GELU_CUBIC)


def _gelu_constants() -> tuple[arb, arb]:
    """(C, A): balls of C = 2 sqrt(2/pi) and A = 0.044715 at the current precision."""
    return _gelu_constants_at(ctx.prec)


def _gelu_v(t: arb, C: arb, A: arb) -> arb:
    """v = 2 sqrt(2/pi) (t + 0.044715 t^3), twice the argument of the tanh."""
    return C * (t + A * t**3)


def _gelu_tanh(t: arb) -> arb:
    """t/2 (1 + tanh(v/2)) = t sigma(v), since 1 + tanh(v/2) = 2 sigma(v)."""
    C, A = _gelu_constants()
    return t * _sigmoid(_gelu_v(t, C, A))


def _dgelu_tanh(t: arb) -> arb:
    """phi'(t) = sigma(v) + t v'(t) sigma(v) sigma(-v) = sigma(v) (1 + w sigma(-v)),
    w = t v'(t) = C (t + 3 A t^3); sigma(-v) is computed, not 1 - sigma(v), which would cancel."""
    C, A = _gelu_constants()
    v = _gelu_v(t, C, A)
    w = C * (t + 3 * A * t**3)
    return _sigmoid(v) * (1 + w * _sigmoid(-v))


ACTIVATIONS: dict[str, BallActivation] = {
    a.name: a
    for a in (
        BallActivation("identity", _identity, _didentity),
        BallActivation("sigmoid", _sigmoid, _dsigmoid),
        BallActivation("tanh", _tanh, _dtanh),
        BallActivation("relu", _relu, _drelu),
        BallActivation("leaky_relu", _leaky_relu, _dleaky_relu),
        BallActivation("softplus", _softplus, _sigmoid),
        BallActivation("elu", _elu, _delu),
        BallActivation("gelu_tanh", _gelu_tanh, _dgelu_tanh),
    )
}
"""Each activation of docs/contract.md, section 2 in ball arithmetic (softplus' = sigma)."""
