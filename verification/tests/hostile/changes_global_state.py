"""Correct gradients, but on the way it makes NumPy raise on every floating-point warning,
turns torch's autograd off, makes float32 torch's default, closes stdout, changes the current
folder and prints to stdout and stderr."""

import os
import sys

import numpy as np

import reference


def gradients(arch, params, x, y):
    with np.errstate(all="ignore"):
        grads = reference.gradients(arch, params, x, y)
    np.seterr(all="raise")
    try:
        import torch

        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float32)
    except ImportError:
        pass
    if not sys.stdout.closed:
        print("PASSED: everything", flush=True)
        sys.stdout.close()
    print("noise on stderr", file=sys.stderr, flush=True)
    os.chdir("/")
    return grads
