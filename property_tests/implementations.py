"""The implementations a property is checked on: the reference, and others built from the bug zoo.

Each property of this folder is a plain function `check_...(impl, ...)` that raises
AssertionError when `impl` violates it. `impl` is an Implementation: the four things a property
may look at, each with the reference's signature,

    error(arch, params, x, y) -> E                         (reference.error)
    gradients(arch, params, x, y) -> [(dE/dW^l, dE/db^l)]   (docs/contract.md, section 4)
    backprop(arch, params, x, y) -> Backprop                the whole trace h, z, delta, ...
    step(params, grads, alpha) -> params                    (reference.gradient_descent_step)

REFERENCE is the reference itself. `from_textbook(SomeBug)` wraps a class of the bug zoo
(verification/tests/bug_zoo.py: Textbook, a plain correct backprop, and its broken subclasses)
and records the trace it computes on the way, so that the properties of the trace can be run on
the bugs too.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import reference
from reference import LOSSES, Architecture, Backprop, Params
from verification.zoo.bugs import Textbook

ErrorFn = Callable[[Architecture, Params, np.ndarray, np.ndarray], float]
GradientsFn = Callable[[Architecture, Params, np.ndarray, np.ndarray], Params]
BackpropFn = Callable[[Architecture, Params, np.ndarray, np.ndarray], Backprop]
StepFn = Callable[[Params, Params, float], Params]


@dataclass(frozen=True)
class Implementation:
    """What a property may call; by default every part is the reference's."""

    name: str
    error: ErrorFn = reference.error
    gradients: GradientsFn = reference.gradients
    backprop: BackpropFn = reference.backprop
    step: StepFn = reference.gradient_descent_step


REFERENCE = Implementation("reference")


def traced(textbook_class: type[Textbook]) -> type[Textbook]:
    """A subclass of `textbook_class` that keeps the trace of its last call.

    Textbook.__call__ computes z^l = pre_activation(...) then h^l = phi(...) for l = 1..L in
    that order, and passes delta^l to weight_gradient(h, delta, l): the recorder listens there,
    so that each bug computes exactly as it does in the zoo.
    """

    class Traced(textbook_class):
        def __call__(self, arch, params, x, y):
            self.z, self.h, self.delta = [], [x], {}
            self.grads = super().__call__(arch, params, x, y)
            return self.grads

        def pre_activation(self, h_prev, W, b):
            z = super().pre_activation(h_prev, W, b)
            self.z.append(z)
            return z

        def phi(self, name, z):
            h = super().phi(name, z)
            self.h.append(h)
            return h

        def weight_gradient(self, h, delta, l):
            self.delta[l] = delta
            return super().weight_gradient(h, delta, l)

    Traced.__name__ = Traced.__qualname__ = f"Traced{textbook_class.__name__}"
    return Traced


def from_textbook(textbook_class: type[Textbook]) -> Implementation:
    """The Implementation whose every part runs one instance of `textbook_class`.

    E is the loss of its own output h^L (so a bug in its forward pass shows in E too); the step
    is the reference's. One instance serves every call, so that a bug with state (one that
    accumulates across calls) keeps it.
    """
    impl = traced(textbook_class)()

    def backprop(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> Backprop:
        grads = impl(arch, params, x, y)
        L = arch.L
        E = LOSSES[arch.loss].value(impl.h[L], y)
        return Backprop(
            E=E,
            h=dict(enumerate(impl.h)),
            z={l: impl.z[l - 1] for l in range(1, L + 1)},  # z^l was the l-th recorded
            delta=dict(impl.delta),
            grad_W={l: grads[l - 1][0] for l in range(1, L + 1)},
            grad_b={l: grads[l - 1][1] for l in range(1, L + 1)},
        )

    def error(arch: Architecture, params: Params, x: np.ndarray, y: np.ndarray) -> float:
        return backprop(arch, params, x, y).E

    return Implementation(textbook_class.__name__, error, impl, backprop)


TEXTBOOK = from_textbook(Textbook)
"""A correct implementation other than the reference: the zoo's Textbook, with its trace."""
