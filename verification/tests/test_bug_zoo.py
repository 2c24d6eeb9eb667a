"""The gate catches every bug of the zoo, names the layer where it starts, and passes the
textbook implementation and the reference."""

import os

import pytest

import reference
from verification import check
from verification.cases import CaseOptions, draw_case
from verification.zoo.bugs import ZOO, Bug, Textbook

CASES_PER_BUG = 40
SEED = 20261128
# The reference must pass 2,000 default cases with no false alarm; the thorough
# profile runs them all, the ci and dev profiles a share that fits the suite's time budget.
REFERENCE_CASES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 400


@pytest.mark.parametrize("bug", ZOO, ids=[bug.name for bug in ZOO])
def test_gate_catches_bug_and_names_the_layer_where_it_starts(bug: Bug):
    report = check(bug.impl(), cases=CASES_PER_BUG, seed=SEED, shrink_failures=0, **bug.options)
    assert not report.ok, f"the gate passed the bug {bug.name!r}:\n{report.summary()}"
    options = CaseOptions(
        **{k: tuple(v) if isinstance(v, tuple) else v for k, v in bug.options.items()}
    )
    for failure in report.failures:
        case = draw_case(failure.case["seed"], failure.case["index"], options)
        assert failure.layer == bug.layer(case), (
            f"{bug.name}: the gate named layer {failure.layer}, but the error starts at "
            f"layer {bug.layer(case)}\n{failure.render()}"
        )
    if bug.hint:
        hints = [f.hint or "" for f in report.failures]
        assert any(bug.hint in h for h in hints), f"{bug.name}: no hint with {bug.hint!r}: {hints}"


def test_zoo_holds_at_least_fifteen_distinct_bugs():
    assert len({bug.impl for bug in ZOO}) >= 15


def test_textbook_implementation_passes_the_gate():
    report = check(Textbook(), cases=300, seed=SEED)
    assert report.ok, report.summary()


def test_reference_passes_default_cases_with_no_false_alarm():
    report = check(reference.gradients, cases=REFERENCE_CASES, seed=SEED, workers=2)
    assert report.ok, report.summary()
    assert report.cases == REFERENCE_CASES
