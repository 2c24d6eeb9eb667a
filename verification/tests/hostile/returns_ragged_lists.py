"""Returns lists of lists of different lengths where the arrays belong."""


def gradients(arch, params, x, y):
    return [([[1.0, 2.0], [3.0]], [0.0]) for _ in params]
