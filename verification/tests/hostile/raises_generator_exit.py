"""Raises GeneratorExit, a BaseException that is not an Exception."""


def gradients(arch, params, x, y):
    raise GeneratorExit
