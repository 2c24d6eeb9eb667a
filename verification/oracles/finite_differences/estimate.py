"""Estimate: what central_differences and complex_step return, every dE/dW^l and dE/db^l with
its error, the entries skipped at a kink or left untrusted, and the step of each."""

from dataclasses import dataclass

import numpy as np

from reference.types import Params


@dataclass(frozen=True)
class Estimate:
    """A finite-difference estimate of every dE/dW^l and dE/db^l, layer order.

    method:    "central+richardson" or "complex-step";
    grads:     [(dE/dW^l, dE/db^l) for l = 1..L], shapes of W^l (n_{l-1}, n_l) and b^l (n_l,);
    error:     the same shapes: an estimate of each entry's absolute error as a derivative of
               the forward pass as computed (see the package docstring);
    skipped:   the same shapes, bool: entries whose perturbation crosses a kink (do not compare);
    untrusted: the same shapes, bool: entries for which no step was trustworthy (every step
               tried moved some curved unit beyond reach, or E overflowed): do not compare;
               never also in skipped;
    steps:     the same shapes: the step s each entry was estimated with (0 for the complex
               step, whose h is COMPLEX_STEP).
    """

    method: str
    grads: Params
    error: Params
    skipped: list[tuple[np.ndarray, np.ndarray]]
    untrusted: list[tuple[np.ndarray, np.ndarray]]
    steps: Params

    @property
    def skipped_count(self) -> int:
        """How many entries were skipped because a perturbation crossed a kink."""
        return _count(self.skipped)

    @property
    def untrusted_count(self) -> int:
        """How many entries were left unjudged because no step was trustworthy."""
        return _count(self.untrusted)

    @property
    def unjudged(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Entries that must not be compared, for either reason: skipped or untrusted."""
        return [
            (sW | uW, sb | ub)
            for (sW, sb), (uW, ub) in zip(self.skipped, self.untrusted, strict=True)
        ]


def _count(masks: list[tuple[np.ndarray, np.ndarray]]) -> int:
    return int(sum(mask.sum() for layer in masks for mask in layer))
