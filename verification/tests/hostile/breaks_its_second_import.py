"""WRONG (returns zeros). Its first import leaves a file in the working folder, and every later
import raises: only the run's first child can import it (a second worker's, or one started
after a crash, cannot). The run has imported it once, so each case whose child cannot start is
a crash, and the run ends FAILED with its reports, as a serial run does; never status 2."""

import os

import numpy as np

MARK = os.path.join(os.getcwd(), "imported_once")
if os.path.exists(MARK):
    raise ImportError("imported again")
open(MARK, "w").close()


def gradients(arch, params, x, y):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
