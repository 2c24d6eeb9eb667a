"""Allocates and touches 2 GiB."""

import numpy as np


def gradients(arch, params, x, y):
    block = np.ones(2**28)  # 2 GiB of float64, every page written
    return [(np.zeros_like(W) + block[0], np.zeros_like(b)) for W, b in params]
