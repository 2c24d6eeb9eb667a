"""Hypothesis profiles for the whole suite, chosen by HYPOTHESIS_PROFILE.

The default is ci when the CI environment variable is set (as .ci/run has it), else dev.

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
default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))
