"""Arrays of arb balls, the form in which the exact witness holds every quantity: the Balls
alias, a float64 array made into exact balls, and a function applied to every ball."""

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
from flint import arb

Balls: TypeAlias = np.ndarray
"""A NumPy array of dtype object whose entries are arb balls."""


def exact_balls(a: np.ndarray) -> Balls:
    """float64 array -> object array of exact balls (every double is exact in arb)."""
    out = np.empty(a.shape, dtype=object)
    for index, v in np.ndenumerate(a):
        out[index] = arb(float(v))
    return out


def elementwise(f: Callable[[arb], arb], balls: Balls) -> Balls:
    """f on every ball, as an object array of the same shape."""
    return np.frompyfunc(f, 1, 1)(balls)
