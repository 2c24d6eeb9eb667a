"""Property tests: the identities and symmetries backprop must satisfy, whatever the numbers.

Every test here `note()`s its case (architecture, regime, batch size) and the transformation it
applies, so that a failure prints a readable minimal example after the full case. The
hypothesis profiles they run under are chosen in the repository's root conftest.py.
"""
