"""The fifth stage: the gate, which runs one implementation on many cases and gathers a report.

check    verification.check: the run, its failures shrunk, the report
loading  MODULE:FUNCTION and PATH/FILE.py:FUNCTION specs
"""

from verification.gate.check import check

__all__ = ["check"]
