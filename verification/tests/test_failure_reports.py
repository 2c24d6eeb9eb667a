"""The gate's first failure message tells the person what they got wrong, with numbers.

The failing case shown first reads best (unsaturated and small), shrinking keeps the failure
(the same kind, the same layer from the top, the same diagnosis), the smallest failing case is
shown with its numbers in the terminal and in the JSON report, every kind of implementation
gets a reproduction, and the Python API takes what a person would type.
"""

import functools
import json

import numpy as np
import pytest

import reference
from verification import check
from verification.cases import CaseOptions, draw_case
from verification.cases.shrink import shrink
from verification.gate.loading import spec_of
from verification.judge import InProcess, judge
from verification.judge.signature import SameFailure, extreme, readability, signature
from verification.report.failure import SHOWN_NUMBERS
from verification.vectors.safe_json import UnreadableJSONError, read_json
from verification.zoo import bugs

# --- the first failure shown ------------------------------------------------------------------


def test_the_first_failure_shown_is_unsaturated_and_small_when_there_is_one():
    report = check(bugs.DphiAtH(), cases=60, activations="tanh", shrink_failures=1)
    cases = [
        draw_case(f.case["seed"], f.case["index"], CaseOptions("tanh")) for f in report.failures
    ]
    assert any(extreme(case) for case in cases)  # the stream holds saturated failures too
    first = cases[0]
    assert not extreme(first), first.describe()
    ordinary = [case for case in cases if not extreme(case)]
    assert first.arch.parameter_count + first.x.size == min(
        case.arch.parameter_count + case.x.size for case in ordinary
    )
    text = report.summary()
    assert "diagnosis: phi' evaluated at h^l = phi(z^l) instead of at z^l" in text
    assert "magnitudes: largest |z^l|: " in text


def test_readability_puts_saturated_cases_last():
    options = CaseOptions(activations=("tanh",), regimes=("plain", "saturated"))
    verdicts = []
    for index in range(30):
        case = draw_case(5, index, options)
        verdicts.append(judge(InProcess(bugs.DphiAtH()), case))
    failed = sorted((v for v in verdicts if not v.passed), key=readability)
    flags = [extreme(v.case) for v in failed]
    assert flags == sorted(flags) and True in flags and False in flags


# --- shrinking keeps the failure ----------------------------------------------------------------


def _judged(impl):
    return lambda candidate: judge(InProcess(impl), candidate)


def test_a_transposed_gradient_that_fails_on_its_values_shrinks_to_a_value_failure():
    """With a square dE/dW^L the transpose fails on values; smaller cases, whose dE/dW^L is
    no longer square, fail on the shape instead: shrinking must not go there."""
    options = CaseOptions(max_width=4)
    impl = bugs.TransposedWeightGradient()
    case = next(
        c
        for i in range(200)
        if (c := draw_case(9, i, options)).arch.sizes[-1] == c.arch.sizes[-2] > 1 and c.n > 1
        and judge(InProcess(impl), c).findings[0].kind == "mismatch"
    )  # fmt: skip
    original = judge(InProcess(impl), case)
    fails = SameFailure(original, _judged(impl))
    smallest = shrink(case, fails)
    assert fails.last.case is smallest
    assert signature(fails.last) == signature(original)
    assert fails.last.findings[0].kind == "mismatch"
    assert fails.last.findings[0].diagnosis.name == "transposed_weight_gradient"
    # the predicate refuses a failure of another kind
    naive = shrink(case, lambda c: not _judged(impl)(c).passed)
    assert _judged(impl)(naive).findings[0].kind == "structure"


def test_an_exception_shrinks_to_the_same_exception():
    def unsupported_elu_and_gelu(arch, params, x, y):
        for name in arch.activations:
            if name in ("elu", "gelu_tanh"):
                raise ValueError(f"unsupported activation: {name}")
        return reference.gradients(arch, params, x, y)

    options = CaseOptions(activations=("elu", "gelu_tanh", "tanh"))
    case = next(
        c
        for i in range(200)
        if (c := draw_case(4, i, options)).arch.activations[0] == "elu"
        and "gelu_tanh" in c.arch.activations
    )
    original = judge(InProcess(unsupported_elu_and_gelu), case)
    fails = SameFailure(original, _judged(unsupported_elu_and_gelu))
    shrink(case, fails)
    assert "unsupported activation: elu" in fails.last.findings[0].message


# --- the smallest failing case, with its numbers ----------------------------------------------


def test_the_smallest_failing_case_is_shown_with_its_numbers(tmp_path):
    report = check(
        bugs.DphiAtH(), cases=20, activations=["tanh"], losses=["squared_error"], max_depth=2
    )
    failure = report.failures[0]
    shown = failure.shrunk
    assert shown is not None and shown["sizes"] == [1, 1]
    text = failure.render()
    assert "smallest failing case: L=1 sizes=(1, 1) tanh squared_error" in text
    assert "layer 1: W^1 = [[" in text and "b^1 = [" in text and "z^1 = [[" in text
    assert "x = [[" in text and "y = [[" in text
    assert "got, where it is beyond its allowance of the exact value:" in text
    (first, *_) = shown["disagreements"]
    assert first["layer"] == 1 and first["param"] in "Wb"
    assert abs(first["got"] - first["expected"]) > first["allowed"] > 0
    report.write_json(tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    written = data["failures"][0]["shrunk"]
    assert written["params"][0]["W"] == shown["params"][0]["W"]  # full precision
    assert written["z"] and written["disagreements"]
    assert data["failures"][0]["diagnosis"]["name"] == "dphi_at_h"
    assert data["failures"][0]["magnitudes"].startswith("largest |z^l|: ")


def test_a_large_array_is_shown_by_its_shape_and_magnitude():
    from verification.report.failure import _shown

    small = np.arange(6.0).reshape(2, 3)
    assert _shown(small) == "[[0, 1, 2], [3, 4, 5]]"
    large = np.full((SHOWN_NUMBERS + 1, 1), -3.0)
    assert _shown(large) == f"({SHOWN_NUMBERS + 1}, 1), largest |entry| 3"


def test_the_json_report_is_strict_json(tmp_path):
    report = check(bugs.SignFlipped(), cases=10, shrink_failures=1)  # rel diff inf at 0
    path = tmp_path / "report.json"
    report.write_json(path)
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


# --- reproductions --------------------------------------------------------------------------


def module_level(arch, params, x, y):
    return [(-gW, -gb) for gW, gb in reference.gradients(arch, params, x, y)]


class Network:
    def gradients(self, arch, params, x, y):
        return module_level(arch, params, x, y)


def two_argument(scale, arch, params, x, y):
    return [(scale * gW, gb) for gW, gb in reference.gradients(arch, params, x, y)]


@pytest.mark.parametrize(
    ("impl", "stand_in"),
    [
        (lambda arch, params, x, y: module_level(arch, params, x, y), "the lambda at"),
        (Network().gradients, "the bound method Network.gradients of a Network"),
        (functools.partial(two_argument, 2.0), "the functools.partial of two_argument"),
    ],
    ids=["lambda", "bound method", "partial"],
)
def test_an_implementation_without_a_name_gets_a_python_reproduction(impl, stand_in):
    assert spec_of(impl) is None
    report = check(impl, cases=3, activations=["tanh"], shrink_failures=0)
    failure = report.failures[0]
    text = failure.render()
    index = failure.case["index"]
    assert f"reproduce in Python: verification.check(impl, seed=0, case={index}, " in text
    assert "activations=['tanh']" in text and stand_in in text
    assert "MODULE:FUNCTION" not in text and "functools:" not in text
    assert failure.reproduce == failure.python  # in the JSON report too


def test_a_module_level_function_gets_a_command_that_names_it():
    assert spec_of(module_level) == f"{__name__}:module_level"
    report = check(module_level, cases=2, shrink_failures=0)
    text = report.failures[0].render()
    assert f"reproduce: python -m verification --impl {__name__}:module_level --seed 0" in text


# --- the Python API -----------------------------------------------------------------------------


def test_a_string_is_taken_as_one_name():
    report = check(reference.gradients, cases=3, activations="tanh", losses="squared_error")
    assert report.ok and set(report.by_activation) == {"tanh"}


def test_a_report_has_a_short_repr():
    report = check(bugs.SignFlipped(), cases=5, shrink_failures=0)
    assert len(repr(report)) < 200 and repr(report).startswith("Report(impl=")
    assert "ok=False" in repr(report) and "failures=" in repr(report)


def test_the_failed_line_carries_no_noise():
    report = check(bugs.SignFlipped(), cases=5, shrink_failures=0)
    (failed_line,) = [line for line in report.summary().splitlines() if line.startswith("FAILED:")]
    assert failed_line == f"FAILED: {report.passed} of 5 cases passed"


def test_a_float32_result_points_to_the_float32_policy():
    def float32_out(arch, params, x, y):
        return [(gW.astype(np.float32), gb) for gW, gb in reference.gradients(arch, params, x, y)]

    failure = check(float32_out, cases=1, shrink_failures=0).failures[0]
    assert "dtype float32, but should be float64" in failure.message
    assert "--dtype float32" in failure.hint and "dtype='float32'" in failure.hint


def test_a_cut_off_json_file_is_named_with_its_line_and_column_in_plain_words(tmp_path):
    path = tmp_path / "case-0000.json"
    path.write_text('{"layers": [{"grad_W": [[1.0, 2.0]], "grad_b": "ab\n')
    with pytest.raises(UnreadableJSONError) as caught:
        read_json(path, 1 << 20)
    message = str(caught.value)
    assert "the text ends before the document does (line 1, column 51)" in message
    assert "cut off" in message and "at at" not in message
