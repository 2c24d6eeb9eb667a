"""Hints: guesses at a bug, offered where nothing is established (verification.judge.diagnoses
establishes what it can, by re-running backprop under each hypothesis).

This module holds texts and one shape rule only, so that the checks on the call
(verification.judge.call), which the isolated child process imports too, stay light.
"""

MUTATION = (
    "an in-place update such as W -= alpha * dW, or a view of an argument returned and modified "
    "later"
)
OFF_BY_ONE_LAYER = "an off-by-one in the layer loop?"
NON_FINITE = (
    "no quantity of the forward pass reaches the point where exp overflows: a division by 0, "
    "log(0), or an array left uninitialised (np.empty)?"
)
FLOAT32_RESULT = (
    "computed in float32? If float32 is intended, judge it by the float32 policy: "
    "--dtype float32 (dtype='float32' in verification.check); otherwise keep float64 throughout"
)
CONVERTIBLE = (
    "return NumPy arrays, or arrays the gate converts: torch tensors on any device, JAX or "
    "CuPy arrays, anything with __dlpack__ or __array__"
)
ACCUMULATION = "the second call returned twice the first: gradients accumulated across calls?"
PERSISTENT_STATE = "state that persists between calls (a cache, or a buffer reused without reset)"


def shape_hint(got: tuple, expected: tuple, n: int) -> str | None:
    """A guess from the shapes alone at why a gradient came back with the wrong one."""
    if got == expected[::-1]:
        return "the transpose of the expected shape: (h^{l-1})^T delta^l, not delta^T h?"
    if got == (n, *expected[1:]) or got == (n, *expected):
        return "one row per example: the sum over the batch is missing"
    if len(got) < len(expected) or 1 in expected:
        return "a squeeze() or ravel() that drops an axis of length 1?"
    return None
