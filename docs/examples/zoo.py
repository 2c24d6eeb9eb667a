"""Bugs of verification/zoo/bugs.py, each bound to a module-level name that --impl can name."""

from verification.zoo.bugs import DphiAtH

dphi_at_h = DphiAtH()  # phi' evaluated at h^l = phi(z^l) instead of at z^l
