"""Calls sys.exit(0) when imported."""

import sys

sys.exit(0)


def gradients(arch, params, x, y):
    raise AssertionError("never called")
