"""Ends its process with status 0 in the middle of the first call, as if all were well."""

import os


def gradients(arch, params, x, y):
    os._exit(0)
