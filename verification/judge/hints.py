"""Hints: known patterns of classic backprop bugs, recognised in a wrong gradient.

Each hint is a guess offered to the reader, never part of the verdict. Every hint the judge
gives comes from here.
"""

import numpy as np

# An entry counts towards a pattern only if the oracle's value is well above rounding noise,
# and a ratio is "constant" when it varies by less than this across those entries.
_SIGNIFICANT = 1e-8  # relative to the largest |expected| of the array
_CONSTANT_RATIO = 1e-6


def _constant_ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    scale = np.abs(expected).max(initial=0.0)
    keep = np.abs(expected) > _SIGNIFICANT * scale
    if scale == 0 or not keep.any():
        return None
    ratio = got[keep] / expected[keep]
    r = float(np.median(ratio))
    if np.all(np.abs(ratio - r) <= _CONSTANT_RATIO * max(abs(r), 1.0)):
        return r
    return None


def hint_for(got: np.ndarray, expected: np.ndarray, param: str, n: int) -> str | None:
    """A guess at the bug behind got != expected for dE/d{param} of a batch of n rows."""
    if not np.any(got) and np.any(expected):
        return "all zero: a missing term, or a gradient never written?"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got, expected.T):
        return "equal to the transpose of the expected gradient: a transpose in the wrong place?"
    r = _constant_ratio(got, expected)
    if r is None or abs(r - 1.0) <= _CONSTANT_RATIO:  # the differences lie where expected is 0
        return None
    for factor, text in (
        (-1.0, "the sign is flipped: dE/dW, not -dE/dW (the minus belongs to the update)"),
        (float(n), f"a factor n = {n}: summed over the batch where E is the batch mean?"),
        (
            1.0 / n,
            f"a factor 1/n = 1/{n}: divided by the batch size twice"
            + (
                " (the bias gradient is the column SUM of delta, not its mean)?"
                if param == "b"
                else "?"
            ),
        ),
        (2.0, "a factor 2: the 1/2 of squared_error dropped?"),
        (0.5, "a factor 1/2: squared_error's 1/2 applied twice?"),
    ):
        if n == 1 and factor in (1.0, float(n)):
            continue
        if abs(r - factor) <= _CONSTANT_RATIO * abs(factor):
            return text
    return f"a constant factor {r:.6g} everywhere in this array"


MUTATION = (
    "an in-place update such as W -= alpha * dW, or a view of an argument returned and modified "
    "later"
)
OFF_BY_ONE_LAYER = "an off-by-one in the layer loop?"
CONVERTIBLE = (
    "return NumPy arrays, or arrays the gate converts: torch tensors on any device, JAX or "
    "CuPy arrays, anything with __dlpack__ or __array__"
)
NON_FINITE = (
    "an overflow: exp of a large logit without the max shift (an unstable softmax or sigmoid)?"
)
ACCUMULATION = "the second call returned twice the first: gradients accumulated across calls?"
PERSISTENT_STATE = "state that persists between calls (a cache, or a buffer reused without reset)"


def shape_hint(got: tuple, expected: tuple, n: int) -> str | None:
    if got == expected[::-1]:
        return "the transpose of the expected shape: (h^{l-1})^T delta^l, not delta^T h?"
    if got == (n, *expected[1:]) or got == (n, *expected):
        return "one row per example: the sum over the batch is missing"
    if len(got) < len(expected) or 1 in expected:
        return "a squeeze() or ravel() that drops an axis of length 1?"
    return None


def nondeterminism_hint(first: np.ndarray, second: np.ndarray) -> str:
    """Why a second call on the same case gave `second` where the first gave `first`."""
    if np.allclose(second, 2 * first, rtol=1e-9, atol=0) and np.any(first):
        return ACCUMULATION
    return PERSISTENT_STATE
