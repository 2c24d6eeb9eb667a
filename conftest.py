"""The whole suite runs under the hypothesis profile that property_tests/conftest.py defines
and chooses (HYPOTHESIS_PROFILE: dev, ci or thorough)."""

import property_tests.conftest  # noqa: F401 (registers and loads the profiles)
