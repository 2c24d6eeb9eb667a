"""Entrywise comparison of a gradient against an oracle, within a per-entry allowance.

A mismatch is summarised the way torch.testing.assert_close does: how many entries are beyond
their allowance, and the worst one (largest |got - expected| / allowed) with its index, both
values, the absolute and relative difference and what was allowed there.
"""

from dataclasses import dataclass

import numpy as np

from reference.types import Params


@dataclass(frozen=True)
class Mismatch:
    """Entries of dE/d{param}^{layer} beyond their allowance against one oracle.

    Against the exact witness (verification.judge.arbiter), `ulps` is the worst entry's
    distance from the exact value in ULPs of that value, and `undecided` says the exact
    witness could not decide it.
    """

    oracle: str
    layer: int  # 1..L
    param: str  # "W" or "b"
    count: int
    total: int
    index: tuple[int, ...]
    expected: float
    got: float
    allowed: float
    ulps: float | None = None
    undecided: bool = False
    witnesses: tuple[str, ...] = ()
    """What each witness says of the worst entry: beyond or within its allowance, or that it
    did not judge it and why (verification.judge.values.Witness.verdict_at)."""

    @property
    def abs_diff(self) -> float:
        return abs(self.got - self.expected)

    @property
    def rel_diff(self) -> float:
        return self.abs_diff / abs(self.expected) if self.expected else float("inf")

    def describe(self) -> str:
        """One line in the form "what=got, but should be expected [where]"."""
        what = f"layer {self.layer}: dE/d{self.param}{list(self.index)} = {self.got:.17g}, but "
        if self.ulps is None:
            what += f"{self.oracle} gives {self.expected:.17g}"
        else:
            what += f"the exact value is {self.expected:.17g}, correctly rounded"
        detail = f"|diff| {self.abs_diff:.3g}, rel {self.rel_diff:.3g}, allowed {self.allowed:.3g}"
        if self.ulps is not None:
            allowances = self.abs_diff / self.allowed if self.allowed > 0 else float("inf")
            detail += f": {self.ulps:.3g} ULP, {allowances:.3g} allowances"
        detail += (
            f"; {self.count} of {self.total} entries of dE/d{self.param}^{self.layer} beyond "
            "allowance"
        )
        if self.undecided:
            detail += "; the exact witness could not decide this entry"
        return f"{what} ({detail})"


def beyond(got: np.ndarray, expected: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Boolean mask of entries with |got - expected| > allowed (NaN anywhere counts as beyond)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return ~(np.abs(got - expected) <= allowed)


def compare(
    got: Params,
    expected: Params,
    allowed: Params,
    oracle: str,
    skipped: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[Mismatch]:
    """Every (layer, W or b) of `got` with entries beyond `allowed` of `expected`.

    `skipped` masks entries the oracle cannot judge (finite differences across a kink). The
    arrays must already have matching shapes; a None in `got` (malformed) is passed over.
    """
    mismatches = []
    for l in range(1, len(got) + 1):
        for k, param in enumerate("Wb"):
            g, e, a = got[l - 1][k], expected[l - 1][k], allowed[l - 1][k]
            if g is None:  # malformed: reported by the structure check instead
                continue
            bad = beyond(g, e, a)
            if skipped is not None:
                bad &= ~skipped[l - 1][k]
            if not bad.any():
                continue
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                ratio = np.where(bad, np.abs(g - e) / np.maximum(a, np.finfo(float).tiny), -1)
            ratio = np.where(np.isnan(ratio), np.inf, ratio)
            worst = np.unravel_index(int(np.argmax(ratio)), g.shape)
            mismatches.append(
                Mismatch(
                    oracle=oracle,
                    layer=l,
                    param=param,
                    count=int(bad.sum()),
                    total=int(bad.size),
                    index=tuple(int(i) for i in worst),
                    expected=float(e[worst]),
                    got=float(g[worst]),
                    allowed=float(a[worst]),
                )
            )
    return mismatches
