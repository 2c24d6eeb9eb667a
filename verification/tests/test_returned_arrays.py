"""Gradients returned as arrays from elsewhere are converted and judged; one that cannot be
converted is a failed case with a hint, never the end of the run."""

from pathlib import Path

import pytest

from verification import check

HERE = Path(__file__).parent / "returned"
QUICK = {"cases": 3, "shrink_failures": 0}


def test_objects_with_only_dlpack_or_only_array_are_converted() -> None:
    assert check(f"{HERE / 'protocols.py'}:gradients", **QUICK).ok


def test_jax_arrays_are_converted() -> None:
    pytest.importorskip("jax")
    assert check(f"{HERE / 'jax_arrays.py'}:gradients", **QUICK).ok


def test_a_tensor_that_cannot_reach_the_cpu_is_a_failed_case_with_a_hint() -> None:
    report = check(f"{HERE / 'meta_tensors.py'}:gradients", **QUICK)
    assert report.cases == 3 and not report.ok
    failure = report.failures[0]
    assert failure.kind == "structure" and "could not be converted" in failure.message
    assert "torch tensors on any device" in (failure.hint or "")
