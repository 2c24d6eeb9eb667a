"""The reference's gradients in objects that offer only __dlpack__, or only __array__."""

import numpy as np

import reference


class OnlyDlpack:
    def __init__(self, a):
        self._a = a

    def __dlpack__(self, *args, **kwargs):
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class OnlyArray:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._a, dtype=dtype)


def gradients(arch, params, x, y):
    return [(OnlyDlpack(W), OnlyArray(b)) for W, b in reference.gradients(arch, params, x, y)]
