"""Never returns."""


def gradients(arch, params, x, y):
    while True:
        pass
