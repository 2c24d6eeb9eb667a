"""Returns one pair more than there are layers."""

import reference


def gradients(arch, params, x, y):
    grads = reference.gradients(arch, params, x, y)
    return [*grads, grads[-1]]
