"""The gate catches every bug of the zoo, names the layer where it starts and its diagnosis,
and passes the textbook implementation and the reference.

The diagnosis shares are checked on CASES_PER_BUG cases per bug against the target of
docs/diagnoses.md; benchmarks/diagnoses.py measures them on 200.
"""

import os

import pytest

import reference
from verification import check
from verification.judge.diagnoses import DIAGNOSES
from verification.zoo.bugs import ZOO, Bug, Textbook
from verification.zoo.rates import TARGET, measure

CASES_PER_BUG = 40
SEED = 20261128
# The reference must pass 2,000 default cases with no false alarm; the thorough
# profile runs them all, the ci and dev profiles a share that fits the suite's time budget.
REFERENCE_CASES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 400


@pytest.mark.parametrize("bug", ZOO, ids=[bug.name for bug in ZOO])
def test_gate_catches_bug_names_the_layer_where_it_starts_and_its_diagnosis(bug: Bug):
    m = measure(bug, CASES_PER_BUG, SEED)
    assert m.failing, f"the gate passed the bug {bug.name!r} on {m.cases} cases"
    assert not m.wrong_layer, (
        f"{bug.name}: another layer than the one where the error starts, on cases "
        f"{m.wrong_layer} (seed {SEED})"
    )
    assert m.share >= TARGET, (
        f"{bug.name}: {m.named} of {m.failing} failing cases name {bug.diagnosis!r}, below the "
        f"target {TARGET:.0%}; named first: {dict(m.said)}"
    )


def test_every_bug_of_the_zoo_has_a_known_diagnosis():
    assert {bug.diagnosis for bug in ZOO} <= set(DIAGNOSES)


def test_zoo_holds_at_least_fifteen_distinct_bugs():
    assert len({bug.impl for bug in ZOO}) >= 15


def test_textbook_implementation_passes_the_gate():
    report = check(Textbook(), cases=300, seed=SEED)
    assert report.ok, report.summary()


def test_reference_passes_default_cases_with_no_false_alarm():
    report = check(reference.gradients, cases=REFERENCE_CASES, seed=SEED, workers=2)
    assert report.ok, report.summary()
    assert report.cases == REFERENCE_CASES
