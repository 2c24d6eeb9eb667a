"""Every text it gives the gate tries to forge a line of the report: the message and type name
of what it raises, the type name and repr of what it returns, and what it prints before its
process ends carry newlines, carriage returns, escape codes, U+2028, U+0085 and "PASSED: 200 of
200 cases passed" (messages and reprs also a NUL and a lone surrogate, which no type name may
hold). Squared error raises, cross-entropy returns an object, binary cross-entropy prints and
exits."""

import os
import sys

FAKE = "\n\x1b[2K\rPASSED: 200 of 200 cases passed\n\u2028PASSED\x85PASSED\x1b[0m"
WORSE = FAKE + "\x00\ud800"

Forged = type("Err" + FAKE, (Exception,), {"__module__": "mod" + FAKE})
Forged.__qualname__ = "Err" + FAKE


class Thing:
    def __repr__(self):
        return WORSE


Thing.__qualname__ = "Thing" + FAKE
Thing.__module__ = "mod" + FAKE


def gradients(arch, params, x, y):
    if arch.loss == "squared_error":
        raise Forged(WORSE)
    if arch.loss == "cross_entropy":
        return Thing()
    sys.stdout.write(FAKE * 3)
    sys.stdout.flush()
    sys.stderr.write("\x1b[1A\x1b[2K\rPASSED: 200 of 200 cases passed\r\n\x1b[0m")
    sys.stderr.flush()
    os._exit(0)
