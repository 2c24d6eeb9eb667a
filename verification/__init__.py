"""backprop-oracle's verification: oracles and a correctness gate for gradient code.

    verification.check(impl, cases=200, seed=0, activations=..., losses=...,
                       max_depth=6, max_width=16, max_batch=8) -> Report

judges any gradient implementation of docs/contract.md, section 4 against torch.autograd and finite
differences on reproducible random networks; `report.ok` is True when every case passed.
`python -m verification` is the same gate on the command line (docs/contract.md, section 5).

Modules: cases (the seeded generator) and strategies (hypothesis), torch_mirror and
finite_differences (the oracles), tolerance (the rounding-error allowance), compare, judge
(the checks on one case), shrink, hints, gate (many cases), report (terminal, JSON, JUnit),
loading (--impl specs) and __main__ (the command line).
"""

__all__ = ["Failure", "Report", "check"]


def __getattr__(name: str):
    # Lazy, so that `import verification.cases.strategies` or `verification.cases` does not load
    # torch and the oracles.
    if name == "check":
        from verification.gate import check

        return check
    if name in ("Failure", "Report"):
        from verification import report

        return getattr(report, name)
    raise AttributeError(f"module 'verification' has no attribute {name!r}")
