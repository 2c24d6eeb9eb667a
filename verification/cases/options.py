"""What a stream of cases may hold: names, bounds and regimes, validated once.

A case belongs to one regime (REGIMES). "plain" is an ordinary network; the others are the
places where gradient code goes wrong (verification.cases.draw says how each is drawn):

    saturated       units of a saturating activation (Activation.saturates) whose
                    pre-activations z^l have magnitude 20 to 500
    kinks           units of a kinked activation (Activation.kink) exactly at their kink, in
                    layers whose z^l is computed exactly
    zero_inputs     whole rows and columns of x equal to 0, zero rows and columns in W^l
    large_logits    logits h^L of magnitude 1e3 to 1e6, for the cross-entropies
    tiny_gradients  every dE/dW^l and dE/db^l below about 1e-30

A regime that the chosen activations and losses make impossible is dropped, and its share goes
to the others.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reference import ACTIVATIONS, LOSSES, Activation

REGIMES: tuple[str, ...] = (
    "plain",
    "saturated",
    "kinks",
    "zero_inputs",
    "large_logits",
    "tiny_gradients",
)
REGIME_SHARES = {  # the share of each regime in a stream of cases, when every one is feasible
    "plain": 0.45,
    "saturated": 0.11,
    "kinks": 0.11,
    "zero_inputs": 0.11,
    "large_logits": 0.11,
    "tiny_gradients": 0.11,
}
CROSS_ENTROPIES = ("cross_entropy", "binary_cross_entropy")


def activations_where(fact: Callable[[Activation], bool]) -> tuple[str, ...]:
    """The names of the activations of which `fact` holds, in the order of ACTIVATIONS,
    e.g. activations_where(lambda a: a.saturates)."""
    return tuple(name for name, activation in ACTIVATIONS.items() if fact(activation))


SATURATING = activations_where(lambda a: a.saturates)
KINKED = activations_where(lambda a: a.kink is not None)
EXACT = activations_where(lambda a: a.exact_on_dyadic)
UNBOUNDED = activations_where(lambda a: a.unbounded)


def as_names(names: object, default: tuple[str, ...]) -> tuple[str, ...]:
    """Names given as a sequence, or one name as a string ("tanh" is ("tanh",), never
    ("t", "a", "n", "h")); `default` if None."""
    if names is None:
        return default
    if isinstance(names, str):
        return (names,)
    return tuple(names)  # type: ignore[arg-type]


def _check_names(what: str, names: object, valid: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(names, str) and not hasattr(names, "__iter__"):
        raise TypeError(
            f"{what} has type {type(names).__name__}, but should be a name or a sequence of "
            f"names, e.g. ({valid[0]!r},)"
        )
    names = as_names(names, ())
    if not names:
        raise ValueError(f"{what} is empty, but should hold at least one of: {', '.join(valid)}")
    for name in names:
        if name not in valid:
            raise ValueError(f"{what}: {name!r} is unknown; valid names: {', '.join(valid)}")
    return names


def _check_bound(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} = {value!r}, but should be an int >= 1")
    return int(value)


def check_range(what: str, lo: object, hi: object) -> tuple[int, int]:
    """(min_what, max_what) as ints, 1 <= lo <= hi, or ValueError naming the bound."""
    lo, hi = _check_bound(f"min_{what}", lo), _check_bound(f"max_{what}", hi)
    if lo > hi:
        raise ValueError(f"min_{what} = {lo}, but should be <= max_{what} = {hi}")
    return lo, hi


def _unfeasible(
    regime: str,
    activations: Sequence[str],
    outputs: Sequence[str] | None,
    losses: Sequence[str],
    max_depth: int,
) -> str | None:
    """Why `regime` cannot be drawn with these activations (hidden layers; the output layer's
    too when `outputs` is None) and losses, or None if it can."""

    def needs(what: str, names: Sequence[str]) -> str:
        return f"regime {regime} needs one of the {what} {', '.join(names)}"

    hidden = set(activations) if max_depth > 1 or outputs is None else set()
    anywhere = hidden | set(outputs or activations)
    if regime == "saturated" and not set(SATURATING) & anywhere:
        return needs("activations", SATURATING)
    if regime == "kinks" and not set(KINKED) & anywhere:
        return needs("activations", KINKED)
    if regime == "large_logits":
        if not set(CROSS_ENTROPIES) & set(losses):
            return needs("losses", CROSS_ENTROPIES)
        if not set(UNBOUNDED) & set(outputs or activations):
            what = "output activations" if outputs else "activations"
            return needs(f"{what} (for an output of magnitude 1e3)", UNBOUNDED)
    return None


@dataclass(frozen=True)
class CaseSpace:
    """The validated set of cases that may be drawn: bounds, names and feasible regimes.

    Built from CaseOptions for draw_case, and from the arguments of strategies.cases().
    Regimes that the activations and losses make impossible are dropped (their cases go to
    the others); if none is left, ValueError says what is missing.
    """

    depth: tuple[int, int]
    width: tuple[int, int]
    batch: tuple[int, int]
    activations: tuple[str, ...]
    losses: tuple[str, ...]
    regimes: tuple[str, ...]
    outputs: tuple[str, ...] | None = None  # the output layer's activations (None: as hidden)

    def __post_init__(self) -> None:
        for what in ("depth", "width", "batch"):
            object.__setattr__(self, what, check_range(what, *getattr(self, what)))
        activations = _check_names("activations", self.activations, tuple(ACTIVATIONS))
        outputs = self.outputs
        if outputs is not None:
            outputs = _check_names("output_activations", outputs, tuple(ACTIVATIONS))
        losses = _check_names("losses", self.losses, tuple(LOSSES))
        regimes = _check_names("regimes", self.regimes, REGIMES)

        def why(regime: str) -> str | None:
            return _unfeasible(regime, activations, outputs, losses, self.depth[1])

        if losses == ("cross_entropy",) and self.width[1] == 1:
            raise ValueError(
                "cross_entropy with an output width n_L = 1 cannot show a wrong gradient value: "
                "with one class, softmax is 1 and every correct gradient is exactly 0; allow a "
                "width of at least 2, or another loss"
            )
        feasible = tuple(r for r in regimes if why(r) is None)
        if not feasible:
            raise ValueError(f"no regime can be drawn: {'; '.join(str(why(r)) for r in regimes)}")
        object.__setattr__(self, "activations", activations)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "losses", losses)
        object.__setattr__(self, "regimes", feasible)

    def allowed(self, names: Sequence[str], output: bool = False) -> tuple[str, ...]:
        """The allowed activations among `names`, for a hidden layer or (output=True) for the
        output layer, in the order they were given."""
        pool = self.outputs if output and self.outputs is not None else self.activations
        return tuple(a for a in pool if a in names)


@dataclass(frozen=True)
class CaseOptions:
    """What draw_case may draw: the names, and the upper bounds of L, every n_l and n.

    Lower bounds are 1: depth L in 1..max_depth, each width n_0..n_L in 1..max_width, batch
    size n in 1..max_batch. `activations` are those of the hidden layers, and of the output
    layer too unless `output_activations` restricts it apart (e.g. ("identity",) for logits).
    `regimes` restricts the regimes; those that the names make impossible are dropped (e.g.
    large_logits without a cross-entropy).
    """

    activations: tuple[str, ...] = tuple(ACTIVATIONS)
    losses: tuple[str, ...] = tuple(LOSSES)
    max_depth: int = 6
    max_width: int = 16
    max_batch: int = 8
    regimes: tuple[str, ...] = REGIMES
    output_activations: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for what in ("max_depth", "max_width", "max_batch"):
            object.__setattr__(self, what, _check_bound(what, getattr(self, what)))
        valid = {"activations": tuple(ACTIVATIONS), "losses": tuple(LOSSES), "regimes": REGIMES}
        if self.output_activations is not None:
            valid["output_activations"] = tuple(ACTIVATIONS)
        for what, names in valid.items():
            object.__setattr__(self, what, _check_names(what, getattr(self, what), names))
        space_of(self)  # raises ValueError if no regime can be drawn


@lru_cache(maxsize=64)
def space_of(options: CaseOptions) -> CaseSpace:
    return CaseSpace(
        depth=(1, options.max_depth),
        width=(1, options.max_width),
        batch=(1, options.max_batch),
        activations=options.activations,
        losses=options.losses,
        regimes=options.regimes,
        outputs=options.output_activations,
    )
