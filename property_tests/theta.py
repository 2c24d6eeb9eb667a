"""Arithmetic on parameter lists theta = [(W^1, b^1), ..., (W^L, b^L)], layer by layer."""

import numpy as np

from reference import Params


def along(params: Params, v: Params, t: float) -> Params:
    """theta + t v."""
    return [(W + t * v_W, b + t * v_b) for (W, b), (v_W, v_b) in zip(params, v, strict=True)]


def inner(a: Params, b: Params) -> float:
    """<a, b> = sum over layers of sum(a_W * b_W) + sum(a_b * b_b)."""
    return float(
        sum(
            np.sum(a_W * b_W) + np.sum(a_b * b_b)
            for (a_W, a_b), (b_W, b_b) in zip(a, b, strict=True)
        )
    )


def magnitude_inner(a: Params, b: Params) -> float:
    """<|a|, |b|>: the scale of the rounding of <a, b> and of a first-order change a . db."""
    return inner([(np.abs(W), np.abs(b)) for W, b in a], [(np.abs(W), np.abs(b)) for W, b in b])


def parameter_count(params: Params) -> int:
    return sum(W.size + b.size for W, b in params)
