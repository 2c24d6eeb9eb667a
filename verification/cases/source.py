"""Where the randomness of a case comes from: a Source makes every random choice.

NumpySource draws from a seeded NumPy generator (verification.cases.draw_case);
verification.cases.strategies.HypothesisSource draws from Hypothesis, so that its examples
shrink. The generator of verification.cases.draw is written once against this protocol.
"""

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

from verification.cases.options import REGIME_SHARES

T = TypeVar("T")

SMALL_SHARE = 0.15  # how often a depth, a width or the batch size takes its least value


# --- where the randomness comes from --------------------------------------------------------


class Source(Protocol):
    """Every random choice of the generator. NumpySource draws from a seeded generator;
    strategies.HypothesisSource draws from Hypothesis, so that its examples shrink."""

    def regime(self, regimes: Sequence[str]) -> str: ...
    def size(self, lo: int, hi: int) -> int: ...
    def sizes(self, count: tuple[int, int], bounds: tuple[int, int]) -> list[int]: ...
    def choices(self, options: Sequence[T], count: int) -> list[T]: ...
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, options: Sequence[T]) -> T: ...
    def chance(self, p: float) -> bool: ...
    def log_uniform(self, lo: float, hi: float) -> float: ...
    def normal(self, shape: tuple[int, ...]) -> np.ndarray: ...
    def uniform(self, shape: tuple[int, ...]) -> np.ndarray: ...
    def integers(self, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray: ...
    def mask(self, shape: tuple[int, ...], p: float) -> np.ndarray: ...


class NumpySource:
    """The Source of draw_case: a numpy Generator. Scalars come from rng.random(), which is
    several times faster than rng.integers() for one value."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def regime(self, regimes: Sequence[str]) -> str:
        """One of `regimes`, in proportion to REGIME_SHARES."""
        u = self.rng.random() * sum(REGIME_SHARES[r] for r in regimes)
        for r in regimes:
            u -= REGIME_SHARES[r]
            if u < 0:
                return r
        return regimes[-1]  # only if rounding left u at 0

    def size(self, lo: int, hi: int) -> int:
        """lo with probability SMALL_SHARE, otherwise uniform in lo..hi."""
        return lo if self.rng.random() < SMALL_SHARE else self.integer(lo, hi)

    def sizes(self, count: tuple[int, int], bounds: tuple[int, int]) -> list[int]:
        """A list of size(*bounds), its length being size(*count)."""
        return [self.size(*bounds) for _ in range(self.size(*count))]

    def choices(self, options: Sequence[T], count: int) -> list[T]:
        return [self.choice(options) for _ in range(count)]

    def integer(self, lo: int, hi: int) -> int:
        """Uniform in lo..hi (both included)."""
        return min(lo + int(self.rng.random() * (hi - lo + 1)), hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def log_uniform(self, lo: float, hi: float) -> float:
        return lo * (hi / lo) ** self.rng.random()

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.rng.standard_normal(shape)

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.rng.random(shape)

    def integers(self, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
        return self.rng.integers(lo, hi + 1, size=shape)

    def mask(self, shape: tuple[int, ...], p: float) -> np.ndarray:
        return self.rng.random(shape) < p
