"""Hypothesis profiles for the whole suite (reference/tests, verification/tests, property_tests),
chosen by the HYPOTHESIS_PROFILE environment variable:

    dev       the default locally: few examples, quick;
    ci        the default when CI is set (.ci/run): derandomized, the same examples every run;
    thorough  many examples and no deadline, for a long run:

        HYPOTHESIS_PROFILE=thorough pytest

They live here, at the root, so that every test folder runs under the same profile.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
