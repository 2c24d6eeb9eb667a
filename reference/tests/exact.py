"""Exact values of every phi, phi', L_i and dE/dh^L, from the definitions of docs/contract.md,
sections 2 and 3, evaluated by mpmath: they never call the code under test.

Each value is computed at DPS digits by a formula whose terms do not cancel where that can be
arranged (an identity, never the reference's own algorithm); where cancellation is inherent
(sigma(h) - y, softplus(h) - y h, gelu_tanh' near its zero), `enough_digits` raises the
precision until at least KEPT_DIGITS digits survive it.
"""

from collections.abc import Callable, Sequence

from mpmath import mp, mpf

DPS = 60  # digits: far beyond float64's 16; deep tails keep them (mpf carries its own exponent)
KEPT_DIGITS = 30  # digits that must survive a cancellation: 1e-30 relative is exact for doubles
MAX_DPS = 2000


def enough_digits(f: Callable[[], tuple[mpf, mpf]]) -> mpf:
    """f() -> (value, size of its terms), evaluated at DPS, 2 DPS, ... digits until |value|
    keeps KEPT_DIGITS digits of the terms' size; an exact 0 (value 0 at MAX_DPS) is 0."""
    dps = DPS
    while True:
        with mp.workdps(dps):
            value, terms = f()
            if abs(value) >= terms * mpf(10) ** (KEPT_DIGITS - dps) or dps >= MAX_DPS:
                return +value
        dps *= 2


# --- activations (docs/contract.md, section 2) ---------------------------------------------


def sigma(t: mpf) -> mpf:
    """sigma(t) = 1 / (1 + e^-t)."""
    return 1 / (1 + mp.exp(-t))


def gelu_constants() -> tuple[mpf, mpf]:
    """C = 2 sqrt(2/pi) and A = 0.044715 C, so v = 2 sqrt(2/pi)(z + 0.044715 z^3) = C z + A z^3."""
    C = 2 * mp.sqrt(2 / mp.pi)
    return C, C * mpf("0.044715")


def phi(name: str, z: float) -> mpf:
    """phi(z) of docs/contract.md, section 2,."""
    z = mpf(z)
    if name == "identity":
        return z
    if name == "sigmoid":
        return sigma(z)
    if name == "tanh":
        return mp.tanh(z)
    if name == "relu":
        return z if z > 0 else mpf(0)
    if name == "leaky_relu":
        return z if z > 0 else mpf("0.01") * z
    if name == "softplus":
        return mp.log1p(mp.exp(z))
    if name == "elu":
        return z if z > 0 else mp.expm1(z)
    if name == "gelu_tanh":
        C, A = gelu_constants()
        return z * sigma(C * z + A * z**3)
    raise ValueError(f"activation {name!r} has no exact phi in this test")


def dphi(name: str, z: float) -> mpf:
    """phi'(z) of docs/contract.md, section 2,, with PyTorch's values at the kinks."""
    z = mpf(z)
    if name == "identity":
        return mpf(1)
    if name == "sigmoid":
        return sigma(z) * sigma(-z)
    if name == "tanh":
        return mp.sech(z) ** 2
    if name == "relu":
        return mpf(1) if z > 0 else mpf(0)
    if name == "leaky_relu":
        return mpf(1) if z > 0 else mpf("0.01")
    if name == "softplus":
        return sigma(z)
    if name == "elu":
        return mpf(1) if z > 0 else mp.exp(z)
    if name == "gelu_tanh":
        return enough_digits(lambda: gelu_slope_terms(z))
    raise ValueError(f"activation {name!r} has no exact derivative in this test")


def gelu_slope_terms(z: mpf) -> tuple[mpf, mpf]:
    """(phi'(z), its largest term) for phi'(z) = sigma(v) + z v'(z) sigma(v) sigma(-v)."""
    C, A = gelu_constants()
    z = +z  # rounded to the working precision
    v = C * z + A * z**3
    level = sigma(v)
    slope = z * (C + 3 * A * z**2) * sigma(v) * sigma(-v)
    return level + slope, max(abs(level), abs(slope))


# --- losses (docs/contract.md, section 3): per row, L_i and n dE/dh^L_i --------------------


def squared_error_row(h: Sequence[float], y: Sequence[float]) -> tuple[mpf, list[mpf]]:
    """L_i = 1/2 sum_k (h_k - y_k)^2 and n dE/dh_k = h_k - y_k."""
    d = [mpf(a) - mpf(b) for a, b in zip(h, y, strict=True)]
    return mp.fsum(dk * dk for dk in d) / 2, d


def cross_entropy_row(h: Sequence[float], label: int) -> tuple[mpf, list[mpf]]:
    """L_i = log sum_k e^h_k - h_y and n dE/dh_k = softmax_k - [k = y].

    With m = max h and j its first index, log sum_k e^h_k - h_y = log1p(S) + (m - h_y),
    S = sum_{k != j} e^(h_k - m): two terms >= 0. At the label, softmax_y - 1 is
    -(sum_{k != y} e^(h_k - m)) / (sum_k e^(h_k - m)).
    """
    logits = [mpf(v) for v in h]
    m = max(logits)
    j = logits.index(m)
    e = [mp.exp(v - m) for v in logits]
    total = mp.fsum(e)
    L = mp.log1p(mp.fsum(ek for k, ek in enumerate(e) if k != j)) + (m - logits[label])
    g = [ek / total for ek in e]
    g[label] = -mp.fsum(ek for k, ek in enumerate(e) if k != label) / total
    return L, g


def _softplus(t: mpf) -> mpf:
    """log(1 + e^t), as t + log1p(e^-t) for t > 0 so that e^t never needs more digits."""
    return t + mp.log1p(mp.exp(-t)) if t > 0 else mp.log1p(mp.exp(t))


def binary_cross_entropy_row(h: Sequence[float], y: Sequence[float]) -> tuple[mpf, list[mpf]]:
    """L_i = sum_k softplus(h_k) - y_k h_k and n dE/dh_k = sigma(h_k) - y_k."""

    def term(a: mpf, b: mpf) -> tuple[mpf, mpf]:
        s = _softplus(a)
        return s - b * a, max(s, abs(b * a))

    def slope(a: mpf, b: mpf) -> tuple[mpf, mpf]:
        if a > 0:  # sigma(a) - b = (1 - b) - sigma(-a): sigma(-a) keeps its digits
            s = sigma(-a)
            return (1 - b) - s, max(s, abs(1 - b))
        s = sigma(a)
        return s - b, max(s, abs(b))

    pairs = [(mpf(a), mpf(b)) for a, b in zip(h, y, strict=True)]
    L = mp.fsum(enough_digits(lambda a=a, b=b: term(a, b)) for a, b in pairs)
    return L, [enough_digits(lambda a=a, b=b: slope(a, b)) for a, b in pairs]


def loss_row(loss: str, h: Sequence[float], y) -> tuple[mpf, list[mpf]]:
    """(L_i, n dE/dh^L_i) for one row h of h^L and its target y (a row, or a label)."""
    if loss == "squared_error":
        return squared_error_row(h, y)
    if loss == "cross_entropy":
        return cross_entropy_row(h, int(y))
    if loss == "binary_cross_entropy":
        return binary_cross_entropy_row(h, y)
    raise ValueError(f"loss {loss!r} has no exact value in this test")
