"""The fourth stage of the gate: the report.

failure  one failed case (Failure), made from a verdict, with its reproduction
report   a run's Report: counts, failures, the terminal summary
files    JSON and JUnit XML, and the end of a command (exit status)
"""

from verification.report.failure import Failure, failure_from, reproduction
from verification.report.report import Report

__all__ = ["Failure", "Report", "failure_from", "reproduction"]
