"""The first stage of the gate: the cases it judges.

    options     what a stream may hold (CaseOptions: names, bounds, regimes)
    source      where the randomness comes from (a seeded NumPy generator, or Hypothesis)
    draw        the generator: draw_case(seed, index, options), one case per (seed, index)
    case        the Case itself
    strategies  the same generator as Hypothesis strategies, for property tests
    shrink      smaller cases cut out of a failing one

Importing this package loads NumPy and the reference, never torch.
"""

from verification.cases.case import Case
from verification.cases.draw import draw_case, draw_cases
from verification.cases.options import CROSS_ENTROPIES, REGIMES, CaseOptions

__all__ = ["CROSS_ENTROPIES", "REGIMES", "Case", "CaseOptions", "draw_case", "draw_cases"]
