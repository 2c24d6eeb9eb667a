"""The case: one input of a gradient implementation, with where it came from."""

import sys
from dataclasses import dataclass

import numpy as np

from reference import Architecture, Params


@dataclass(frozen=True, eq=False)
class Case:
    """One input of a gradient implementation (docs/contract.md, section 4), with where it came
    from.

    params: [(W^l, b^l) for l = 1..L], float64, W^l (n_{l-1}, n_l), b^l (n_l,);
    x: float64 (n, n_0); y: float64 (n, n_L), or int64 labels (n,) for cross_entropy.
    seed and index are set when the case comes from draw_case(seed, index, options), which
    reproduces it exactly. Two cases are equal when every field is, arrays bit for bit.
    """

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    regime: str
    seed: int | None = None
    index: int | None = None

    @property
    def n(self) -> int:
        """The batch size."""
        return self.x.shape[0]

    @property
    def L(self) -> int:
        """The number of layers."""
        return self.arch.L

    def describe(self) -> str:
        """One line, e.g. "L=2 sizes=(4, 8, 2) tanh,identity cross_entropy n=5 regime=kinks"."""
        return (
            f"L={self.L} sizes={self.arch.sizes} {','.join(self.arch.activations)} "
            f"{self.arch.loss} n={self.n} regime={self.regime}"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Case):
            return NotImplemented
        arrays = [self.x, self.y, *(a for layer in self.params for a in layer)]
        others = [other.x, other.y, *(a for layer in other.params for a in layer)]
        return (
            (self.arch, self.regime, self.seed, self.index)
            == (other.arch, other.regime, other.seed, other.index)
            and len(arrays) == len(others)
            and all(
                a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                for a, b in zip(arrays, others, strict=True)
            )
        )

    def __repr__(self) -> str:
        """Every value in full (shortest round-trip digits), so a printed case can be rebuilt."""
        with np.printoptions(floatmode="unique", threshold=sys.maxsize):
            params = ", ".join(f"({W!r}, {b!r})" for W, b in self.params)
            return (
                f"Case(arch={self.arch!r}, regime={self.regime!r}, seed={self.seed!r}, "
                f"index={self.index!r},\n     x={self.x!r},\n     y={self.y!r},\n"
                f"     params=[{params}])"
            )

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        """Hypothesis and IPython print a case with __repr__ (its values in full), not field
        by field with NumPy's 8 digits."""
        printer.text(repr(self))  # type: ignore[attr-defined]
