"""How large the numbers of a case are, and where a textbook formula overflows on them.

The process that judges holds the case and can run the reference's forward pass, so these are
functions of the case alone (never of what the implementation returned):

    magnitudes(case)       the largest |z^l| of each layer and the largest logit |h^L|, which
                           reports show so that saturation and overflow are visible;
    overflow_origin(case)  the first quantity of the forward pass past the point where a
                           textbook formula of its activation or loss overflows, with its layer
                           and magnitude: "z^3 reaches -812 in layer 3 (sigmoid): e^-z
                           overflows past 709.78";
    with_overflow_origin   a non-finite finding or a numeric exception named there: that is
                           where the NaN or the exception starts (judge.conclude applies it).

Where each textbook formula overflows (OVERFLOWS, one record per activation and loss):

    sigmoid        1 / (1 + e^-z), e^z / (1 + e^z), and the slope e^-z / (1 + e^-z)^2:
                   inf / inf = NaN once |z| passes log(largest float)
    softplus       log(1 + e^z) = inf once z passes it
    cross_entropy  the softmax e^h / sum e^h without the max shift: inf / inf past it, and
                   0 / 0 when every logit of a row lies below log(smallest subnormal)
    binary_cross_entropy   the sigmoid of the logits, as above

tanh, elu and gelu_tanh are computed by library functions (np.tanh, np.expm1) or with
np.where, whose discarded branch may overflow without harm; identity and the relus never
overflow. Squared error overflows only in E itself (h^2 past 1.3e154), not in its gradient.
"""

from dataclasses import dataclass, replace

import numpy as np

import reference
from verification.cases import Case
from verification.judge.findings import Finding

FLOAT64_EXP_LIMIT = float(np.log(np.finfo(np.float64).max))  # 709.78: e^709.79 = inf
FLOAT32_EXP_LIMIT = float(np.log(np.finfo(np.float32).max))  # 88.72 in float32
FLOAT64_EXP_FLOOR = float(np.log(np.finfo(np.float64).smallest_subnormal))  # -745.13: e^t = 0
FLOAT32_EXP_FLOOR = float(np.log(np.finfo(np.float32).smallest_subnormal))  # -103.28


@dataclass(frozen=True)
class Overflow:
    """Where a textbook formula of one activation or loss overflows.

    side: +1 if it overflows for large positive arguments (e^z), -1 for large negative ones
    (e^-z), 0 for both; formula: the textbook formula, in words, for the message.
    """

    side: int
    formula: str


OVERFLOWS: dict[str, Overflow | None] = {
    "identity": None,
    "sigmoid": Overflow(0, "e^-z in 1 / (1 + e^-z) and its slope, or e^z in e^z / (1 + e^z)"),
    "tanh": None,  # np.tanh never overflows
    "relu": None,
    "leaky_relu": None,
    "softplus": Overflow(+1, "e^z in log(1 + e^z)"),
    "elu": None,  # e^z - 1 is taken for z <= 0 only, where it cannot overflow
    "gelu_tanh": None,  # z^3 overflows past 5.6e102, beyond any case of the gate
    "cross_entropy": Overflow(+1, "e^h in a softmax without the max shift"),
    "binary_cross_entropy": Overflow(0, "e^-h in the sigmoid of the logits"),
    "squared_error": None,  # (h - y)^2 overflows in E only, never in dE/dh^L = (h - y) / n
}
"""Every activation and loss name, mapped to where its textbook formula overflows (None:
nowhere in reach of the gate's cases). A test checks that none is missing."""


@dataclass(frozen=True)
class Magnitudes:
    """The largest |z^l| of each layer (keyed by l = 1..L) and the largest logit |h^L| (for the
    cross-entropies, None for squared_error)."""

    z: dict[int, float]
    logits: float | None

    def describe(self, arch: reference.Architecture) -> str:
        """One line: "largest |z^l|: 2.3 (layer 1, tanh), 812 (layer 2, sigmoid); largest
        logit |h^L| 67"."""
        layers = ", ".join(
            f"{self.z[l]:.3g} (layer {l}, {arch.activations[l - 1]})" for l in sorted(self.z)
        )
        text = f"largest |z^l|: {layers}"
        if self.logits is not None:
            text += f"; largest logit |h^L| {self.logits:.3g}"
        return text


def magnitudes(case: Case) -> Magnitudes:
    """The largest |z^l| per layer and the largest logit, from the reference's forward pass."""
    trace = _forward(case)
    z = {l: float(np.abs(trace.z[l]).max(initial=0.0)) for l in trace.z}
    logits = None
    if case.arch.loss != "squared_error":
        logits = float(np.abs(trace.h[case.arch.L]).max(initial=0.0))
    return Magnitudes(z, logits)


@dataclass(frozen=True)
class Origin:
    """The first quantity of the forward pass past the overflow point of its formula.

    layer: 1..L; quantity: "z^3" or "h^L"; value: the entry of largest magnitude there (signed);
    name: the activation or loss; limit: the overflow point of e^t in the precision named.
    """

    layer: int
    quantity: str
    value: float
    name: str
    formula: str
    limit: float
    precision: str

    def describe(self) -> str:
        """E.g. "z^3 reaches -812 in layer 3 (sigmoid): e^-z in 1 / (1 + e^-z) ... overflows
        past 709.78"."""
        where = "" if self.precision == "float64" else " in float32"
        if self.value < 0 and self.name == "cross_entropy":
            return (
                f"every logit of a row of h^{self.layer} lies below {self.value:.4g} "
                f"(cross_entropy): e^h underflows to 0{where} below {self.limit:.2f}, and a "
                "softmax without the max shift divides 0 by 0"
            )
        return (
            f"{self.quantity} reaches {self.value:.4g} in layer {self.layer} ({self.name}): "
            f"{self.formula} overflows{where} past {self.limit:.2f}"
        )


def _forward(case: Case) -> reference.Forward:
    with np.errstate(all="ignore"):
        return reference.forward(case.arch, case.params, case.x)


def _past(values: np.ndarray, side: int, limit: float) -> float | None:
    """The entry of `values` furthest past +-limit on `side` (0: either), or None."""
    if side > 0:
        worst = float(values.max(initial=-np.inf))
        return worst if worst > limit else None
    if side < 0:
        worst = float(values.min(initial=np.inf))
        return worst if worst < -limit else None
    worst = values.flat[int(np.argmax(np.abs(values)))] if values.size else 0.0
    return float(worst) if abs(worst) > limit else None


def _softmax_underflow(h: np.ndarray, floor: float) -> float | None:
    """The largest logit of a row whose logits all lie below `floor` (e^h = 0 for each)."""
    row_max = h.max(axis=1, initial=-np.inf)
    below = row_max[row_max < floor]
    return float(below.max()) if below.size else None


def overflow_origin(case: Case, *, precision: str = "float64") -> Origin | None:
    """The first quantity, from layer 1 up to the loss, past the overflow point of its textbook
    formula (OVERFLOWS) in `precision`, or None if none overflows.

    Backprop's forward pass runs from layer 1 up, and a value that overflows to inf spoils
    every layer above it and every gradient: the lowest such place is where the NaN starts.
    """
    limit, floor = (
        (FLOAT64_EXP_LIMIT, FLOAT64_EXP_FLOOR)
        if precision == "float64"
        else (FLOAT32_EXP_LIMIT, FLOAT32_EXP_FLOOR)
    )
    trace = _forward(case)
    L = case.arch.L
    for l in range(1, L + 1):
        name = case.arch.activations[l - 1]
        overflow = OVERFLOWS[name]
        if overflow is None:
            continue
        value = _past(trace.z[l], overflow.side, limit)
        if value is not None:
            return Origin(l, f"z^{l}", value, name, overflow.formula, limit, precision)
    loss = case.arch.loss
    overflow = OVERFLOWS[loss]
    if overflow is None:
        return None
    h = trace.h[L]
    value = _past(h, overflow.side, limit)
    if value is not None:
        return Origin(L, f"the logit h^{L}", value, loss, overflow.formula, limit, precision)
    if loss == "cross_entropy":
        value = _softmax_underflow(h, floor)
        if value is not None:
            return Origin(L, f"h^{L}", value, loss, overflow.formula, floor, precision)
    return None


def overflow_in(case: Case, dtype: str = "float64") -> Origin | None:
    """Where an implementation computing in `dtype` overflows first on `case`.

    For float64 the float64 overflow points, and failing those the float32 ones: a case past
    88.72 but below 709.78 overflows only where float32 arithmetic hides inside a float64
    interface (Origin.precision says which).
    """
    if dtype == "float32":
        return overflow_origin(case, precision="float32")
    return overflow_origin(case) or overflow_origin(case, precision="float32")


NUMERIC_ERRORS = ("FloatingPointError", "OverflowError", "ZeroDivisionError")
_NUMERIC_WORDS = ("overflow", "invalid value", "divide by zero", "math range error")


def is_numeric_error(error: str) -> bool:
    """Whether an exception ("Type: message") comes from arithmetic (an overflow, 0/0), as
    opposed to shapes, names or types: only then can the case's magnitudes explain it."""
    kind, _, message = error.partition(":")
    return kind.strip() in NUMERIC_ERRORS or any(w in message.lower() for w in _NUMERIC_WORDS)


def where_it_overflows(case: Case, dtype: str = "float64") -> tuple[int | None, str]:
    """(the layer where an overflow starts, "; it starts in layer 3: z^3 reaches ...") for
    the message of a non-finite result or a numeric exception; (None, "") if nothing in the
    case reaches an overflow point."""
    origin = overflow_in(case, dtype)
    if origin is None:
        return None, ""
    return origin.layer, f"; it starts in layer {origin.layer}: {origin.describe()}"


def with_overflow_origin(finding: Finding, case: Case, dtype: str = "float64") -> Finding:
    """A non-finite finding, or a numeric exception, named at the layer and magnitude where an
    overflow starts on `case` ("...; it starts in layer 3: z^3 reaches 812 ..."); any other
    finding, or one on a case that reaches no overflow point, as it is."""
    numeric = finding.kind == "exception" and is_numeric_error(finding.error or "")
    if finding.kind != "non-finite" and not numeric:
        return finding
    layer, note = where_it_overflows(case, dtype)
    if layer is None:
        return finding
    return replace(finding, message=finding.message + note, layer=layer, hint=None)
