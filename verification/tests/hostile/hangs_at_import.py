"""Never finishes importing."""

while True:
    pass


def gradients(arch, params, x, y):
    raise AssertionError("never called")
