"""Implementations that try to change the verdict instead of computing the gradients."""

import sys

import numpy as np


def zeros(params):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]


def rewrites_the_judge(arch, params, x, y):
    """Returns zeros, after replacing the gate's judge, wherever it can reach it, by one that
    passes every case."""
    chunks = sys.modules.get("verification.gate.chunks")
    if chunks is not None:
        from verification.judge.findings import Verdict

        chunks.judge = lambda caller, case, dtype: Verdict(case, ())
    return zeros(params)


def prints_and_exits(arch, params, x, y):
    """Prints a verdict of its own, then exits with status 0."""
    print("PASSED: 200 of 200 cases passed")
    sys.exit(0)
