"""What the oracles say about one case, computed once and shared by every call judged on it."""

from dataclasses import dataclass

from reference.types import Params
from verification.cases import Case
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

    @classmethod
    def of(cls, case: Case, dtype: str = "float64") -> "Oracles":
        """Consult every oracle on `case`; `dtype` is the precision the implementation
        computes in ("float64" or "float32"), which sets its allowance."""
        args = (case.arch, case.params, case.x, case.y)
        return cls(
            torch=torch_backprop(*args).grads,
            finite_differences=central_differences(*args),
            allowed=allowance(*args, dtype=dtype),
        )
