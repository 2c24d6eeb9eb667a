"""The gate's own parts: comparison, shrinking and the per-case checks (the diagnoses have
test_diagnoses.py)."""

import numpy as np

import reference
from verification.cases import CaseOptions, draw_case
from verification.cases.shrink import shrink
from verification.judge import InProcess, judge
from verification.judge.compare import compare


def test_compare_reports_the_worst_entry_by_ratio_to_its_allowance():
    expected = [(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))]
    got = [(np.array([[1.0, 2.5], [3.0, 4.0 + 1e-9]]), np.array([1.0, 1.0]))]
    allowed = [(np.full((2, 2), 1e-10), np.full(2, 1e-10))]
    (m,) = compare(got, expected, allowed, "oracle")
    assert (m.layer, m.param, m.count, m.total, m.index) == (1, "W", 2, 4, (0, 1))
    assert (m.expected, m.got, m.allowed) == (2.0, 2.5, 1e-10)
    assert "layer 1: dE/dW[0, 1] = 2.5, but oracle gives 2" in m.describe()


def test_compare_treats_nan_as_beyond_any_allowance_and_respects_skips():
    expected = [(np.zeros((1, 2)), np.zeros(1))]
    got = [(np.array([[np.nan, 5.0]]), np.zeros(1))]
    allowed = [(np.ones((1, 2)), np.ones(1))]
    (m,) = compare(got, expected, allowed, "oracle")
    assert m.count == 2 and m.index == (0, 0)
    skipped = [(np.array([[True, True]]), np.array([False]))]
    assert compare(got, expected, allowed, "oracle", skipped=skipped) == []


def _wrong_at_output(arch, params, x, y):
    grads = reference.gradients(arch, params, x, y)
    grads[-1] = (grads[-1][0] * 1.5, grads[-1][1])
    return grads


def test_shrinking_reaches_a_smaller_case_that_still_fails():
    options = CaseOptions(activations=("tanh",), losses=("squared_error",))
    case = next(
        c
        for i in range(50)
        if (c := draw_case(7, i, options)).arch.L >= 3 and c.n >= 3 and max(c.arch.sizes) > 2
    )

    def fails(candidate):
        return not judge(InProcess(_wrong_at_output), candidate).passed

    assert fails(case)
    smallest = shrink(case, fails)
    assert fails(smallest)
    assert smallest.arch.L < case.arch.L
    assert smallest.n < case.n
    assert sum(smallest.arch.sizes) < sum(case.arch.sizes)


def test_an_exception_names_where_it_was_raised_and_the_layer():
    def raises_in_layer_loop(arch, params, x, y):
        for l in range(arch.L, 0, -1):
            if l == 1:
                raise RuntimeError("boom")
        return []

    case = draw_case(3, 0, CaseOptions(max_depth=3))
    verdict = judge(InProcess(raises_in_layer_loop), case)
    (finding,) = verdict.findings
    assert finding.kind == "exception" and finding.layer == 1
    assert "RuntimeError: boom" in finding.message and "raises_in_layer_loop" in finding.message


def test_a_mutating_impl_is_caught_even_when_its_gradients_are_right():
    def mutates_x(arch, params, x, y):
        grads = reference.gradients(arch, params, x, y)
        x[0, 0] += 1.0
        return grads

    case = draw_case(3, 1)
    kinds = [f.kind for f in judge(InProcess(mutates_x), case).findings]
    assert kinds == ["mutation"]
    assert case.x is not None and np.isfinite(case.x).all()


def test_wrong_dtype_and_shape_are_failed_cases_not_crashes():
    def float32_out(arch, params, x, y):
        return [(gW.astype(np.float32), gb) for gW, gb in reference.gradients(arch, params, x, y)]

    def wrong_count(arch, params, x, y):
        return reference.gradients(arch, params, x, y)[:-1]

    case = draw_case(4, 2)
    (finding,) = judge(InProcess(float32_out), case).findings
    assert finding.kind == "structure" and "float32" in finding.message
    (finding,) = judge(InProcess(wrong_count), case).findings
    assert finding.kind == "structure" and f"L = {case.arch.L}" in finding.message
