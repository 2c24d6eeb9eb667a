"""How often the gate's judge names the right diagnosis: the figures of docs/diagnoses.md.

    measure(bug, cases, seed)          judge cases drawn for a bug of the zoo and count its
                                       failing cases, those whose report names its diagnosis
                                       first, those that name it at all (first, or as an
                                       alternative the case cannot tell apart), and those that
                                       name another layer than the bug's
    false_diagnoses(impl, cases, seed) the diagnoses a correct implementation's results
                                       support on cases drawn with every option, whether or not
                                       they failed (none is the target)

benchmarks/diagnoses.py prints the table for 200 cases per bug; verification/tests/
test_bug_zoo.py checks TARGET on 40.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from verification.cases import CaseOptions, draw_case
from verification.gate.run import one_torch_thread  # as the gate runs its cases
from verification.judge import InProcess, judge
from verification.judge.diagnoses import established
from verification.zoo.bugs import Bug

TARGET = 0.9
"""The share of a bug's failing cases whose report must name its diagnosis."""


@dataclass
class Measurement:
    """What the judge said on the cases of one bug."""

    bug: Bug
    cases: int = 0
    failing: int = 0
    named_first: int = 0
    named: int = 0
    wrong_layer: list[int] = field(default_factory=list)  # indices of cases
    said: Counter = field(default_factory=Counter)  # diagnosis named first -> failing cases

    @property
    def share(self) -> float:
        """The share of failing cases whose report names the bug's diagnosis."""
        return self.named / self.failing if self.failing else 0.0

    @property
    def share_first(self) -> float:
        return self.named_first / self.failing if self.failing else 0.0


def measure(bug: Bug, cases: int, seed: int) -> Measurement:
    """Judge cases 0..cases-1 of the stream `seed` drawn with bug.case_options()."""
    m = Measurement(bug)
    impl = bug.impl()
    options = bug.case_options()
    with one_torch_thread():
        for index in range(cases):
            case = draw_case(seed, index, options)
            verdict = judge(InProcess(impl), case)
            m.cases += 1
            if verdict.passed:
                continue
            m.failing += 1
            main = verdict.findings[0]
            names = main.diagnosis.names if main.diagnosis else ()
            m.named_first += bool(names) and names[0] == bug.diagnosis
            m.named += bug.diagnosis in names
            m.said[names[0] if names else None] += 1
            if main.layer != bug.layer(case):
                m.wrong_layer.append(index)
    return m


def false_diagnoses(impl: Callable, cases: int, seed: int) -> Counter:
    """The diagnoses (by name) that the results of `impl`, a correct implementation, support
    on cases 0..cases-1 of the stream `seed` with every option (judge.diagnoses.established)."""
    found: Counter = Counter()
    options = CaseOptions()
    for index in range(cases):
        case = draw_case(seed, index, options)
        for diagnosis in established(case, impl(case.arch, case.params, case.x, case.y)):
            found[diagnosis.name] += 1
    return found
