"""Hypothesis profiles for the property tests: dev, ci and thorough.

They are registered once, for the whole suite, by the repository's root conftest.py, which pytest
loads before this file for every test under the repository (so they are not registered a second
time here), and chosen by the HYPOTHESIS_PROFILE environment variable:

    dev       the default locally: few examples, quick;
    ci        the default when CI is set (.ci/run): derandomized, the same examples every run;
    thorough  many examples and no deadline, for a long run:

        HYPOTHESIS_PROFILE=thorough pytest property_tests

Every test here `note()`s its case (architecture, regime, batch size) and the transformation it
applies, so that a failure prints a readable minimal example after the full case.
"""
