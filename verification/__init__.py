"""backprop-oracle's verification: oracles and a correctness gate for gradient code.

    verification.check(impl, cases=200, seed=0, activations=..., losses=...,
                       max_depth=6, max_width=16, max_batch=8, ...) -> Report

judges any gradient implementation (docs/contract.md, section 4) against torch.autograd and
finite differences on reproducible random networks, the implementation isolated in a child
process; `report.ok` is True when every case passed. `python -m verification` is the same gate
on the command line (docs/contract.md, section 5).

The subpackages are the stages of the gate, in the order data flows through them: cases (the
seeded stream, strategies, shrinking) -> oracles (torch mirror, finite differences, tolerance)
-> judge (checks on the call and on the values) -> report -> gate (the run, isolation,
executors) -> command_line; vectors (golden test vectors for other languages) and zoo (bugs to
plant) sit beside them.
"""

__all__ = ["Failure", "Report", "check"]


def __getattr__(name: str):
    # Lazy, so that `import verification.cases` or `verification.vectors` does not load torch
    if name == "check":
        from verification.gate.run import check

        return check
    if name in ("Failure", "Report"):
        from verification import report

        return getattr(report, name)
    raise AttributeError(f"module 'verification' has no attribute {name!r}")
