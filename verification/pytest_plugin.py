"""The gate inside a pytest suite: the `backprop_gate` fixture.

    def test_my_backprop(backprop_gate):
        backprop_gate.check(my_gradients, activations=["tanh", "relu"], cases=200)

runs verification.check on `my_gradients` (the same keyword arguments) and, if any case fails,
fails the test with the gate's report as its message: the case, the layer where the error
starts, W or b, the worst index, expected against got, the diagnosis, the smallest failing case
with its numbers, and the call of the fixture that reproduces it (with the command, when the
implementation can be named). No traceback into the gate is shown; the report is the
message. On a pass, check returns the Report.

pytest loads this module through the `pytest11` entry point `backprop_gate` wherever
backprop-oracle is installed (`-p no:backprop_gate` turns it off). Without the installed entry
point, `-p verification.pytest_plugin` loads it by hand; do not give both, or pytest refuses to
register the module twice. Since pytest loads it in every session of such an environment, it
defines one fixture and nothing else (no option, no hook) and imports the gate, hence torch,
only when a test calls check.

Under pytest-xdist each worker process loads the plugin and judges the tests it was given; a
gate's cases are drawn from (seed, index) alone, so the report does not depend on the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from verification.report import Report


class BackpropGate:
    """What the `backprop_gate` fixture gives a test: `check(impl, **options) -> Report`."""

    def check(self, impl: Callable | str | None, **options: Any) -> Report:
        """Judge `impl` with verification.check(impl, **options), and fail the calling test
        with the report's summary if any case failed.

        `impl` and `options` are those of verification.check: a gradient callable
        (docs/contract.md, section 4) or a "MODULE:FUNCTION" spec; cases, seed, activations,
        losses, max_depth, max_width, max_batch, dtype, workers, case. Bad options raise as
        they do there. Returns the Report when every case passed.
        """
        __tracebackhide__ = True  # a bad option is the caller's line, not this one
        from verification.gate.run import check

        report = check(impl, **options)
        if not report.ok:
            # reproductions as calls of this fixture, which is what the test has at hand
            pytest.fail(report.summary(call="backprop_gate.check"), pytrace=False)
        return report


@pytest.fixture
def backprop_gate() -> BackpropGate:
    """The gate as a fixture: `backprop_gate.check(my_gradients, cases=200, ...)`."""
    return BackpropGate()
