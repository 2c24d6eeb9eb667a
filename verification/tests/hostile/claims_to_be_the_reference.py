"""WRONG (twice the gradients), and its module says that its file is the reference's, so that
a gate that took the child's word would label it "this project's own reference"."""

import reference

__file__ = reference.__file__


def gradients(arch, params, x, y):
    return [(2 * dW, 2 * db) for dW, db in reference.gradients(arch, params, x, y)]
