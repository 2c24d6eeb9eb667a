"""Starts a non-daemon thread that never ends, then returns the reference's gradients."""

import threading
import time

import reference


def _forever() -> None:
    while True:
        time.sleep(0.1)


def gradients(arch, params, x, y):
    threading.Thread(target=_forever, daemon=False).start()
    return reference.gradients(arch, params, x, y)
