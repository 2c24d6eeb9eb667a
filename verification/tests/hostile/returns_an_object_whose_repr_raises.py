"""Returns an object whose repr, str and every attribute raise."""


class Poison:
    def __repr__(self):
        raise RuntimeError("repr")

    def __str__(self):
        raise RuntimeError("str")

    def __getattr__(self, name):
        raise RuntimeError(name)


def gradients(arch, params, x, y):
    return Poison()
