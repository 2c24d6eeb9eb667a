"""Hypothesis profiles for the whole suite, chosen by HYPOTHESIS_PROFILE (default: dev).

dev:      quick, for working locally;
ci:       derandomized (the same examples every run) and bounded, used by .ci/run;
thorough: many examples and no deadline, for a long run before a release.
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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
