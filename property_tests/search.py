"""Searching for an example where a property holds, or where it is violated.

A property is a function check(impl, *scenario) that raises AssertionError when `impl`
violates it (any other exception is an error of the test, not a violation).
"""

from collections.abc import Callable

from hypothesis import HealthCheck, Phase, settings

from property_tests.implementations import Implementation

SEARCH = settings(
    max_examples=300,
    phases=[Phase.generate],
    database=None,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
"""For hypothesis.find: the first example found is kept (no shrinking), and derandomized, so
the same example is found on every run."""


def violation(check: Callable[..., None], impl: Implementation, scenario: tuple) -> str | None:
    """The message of the AssertionError check(impl, *scenario) raises, or None if it holds."""
    try:
        check(impl, *scenario)
    except AssertionError as e:
        return str(e) or type(e).__name__
    return None


def passes(check: Callable[..., None], impl: Implementation, scenario: tuple) -> bool:
    return violation(check, impl, scenario) is None
