"""What the oracles say about one case, computed once and shared by every call judged on it."""

from dataclasses import dataclass, field
from functools import cached_property

from reference.types import Params
from verification.cases import Case
from verification.oracles.exact import GRADIENTS, ExactBackprop, exact_backprop
from verification.oracles.finite_differences import Estimate, central_differences
from verification.oracles.tolerance import allowance
from verification.oracles.torch_mirror import torch_backprop


@dataclass(frozen=True)
class Oracles:
    """torch.autograd's gradients, the finite-difference estimate with its errors and skipped
    entries, and the rounding allowance of one correct implementation, per entry."""

    torch: Params
    finite_differences: Estimate
    allowed: Params
    case: Case = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @cached_property
    def exact(self) -> ExactBackprop:
        """The exact witness of the case's gradients, computed on first use (the arbiter of
        every disagreement: verification.judge.arbiter)."""
        c = self.case
        return exact_backprop(c.arch, c.params, c.x, c.y, need=GRADIENTS)

    @classmethod
    def of(cls, case: Case, dtype: str = "float64") -> "Oracles":
        """Consult every oracle on `case`; `dtype` is the precision the implementation
        computes in ("float64" or "float32"), which sets its allowance."""
        args = (case.arch, case.params, case.x, case.y)
        return cls(
            torch=torch_backprop(*args).grads,
            finite_differences=central_differences(*args),
            allowed=allowance(*args, dtype=dtype),
            case=case,
        )
