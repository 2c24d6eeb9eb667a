"""Writing a report: the terminal summary, JSON and JUnit XML, and the end of a command.

Any report with `ok`, `summary()`, `to_dict()`, `junit_cases()` and `seconds` is written the
same way: the gate's Report and the report of golden vectors alike.
"""

import json
import math
import os
import sys
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

from verification.report.failure import Failure, printable


class Written(Protocol):
    """What a report must offer to be printed and written."""

    seconds: float

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict: ...

    def junit_cases(self) -> list[tuple[str, Failure | None]]: ...


NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
"""How a number that is not finite is written in a report: JSON has no such numbers, so the
strings "NaN", "Infinity" and "-Infinity" stand for them (JavaScript's Number() reads them)."""


def jsonable(value: object) -> object:
    """`value` with every non-finite float replaced by its NON_FINITE string: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[repr(value)]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def write_json(report: Written, path: str | Path) -> None:
    """The report as strict JSON (no NaN or Infinity literals; see NON_FINITE)."""
    text = json.dumps(jsonable(report.to_dict()), indent=1, allow_nan=False)
    Path(path).write_text(text + "\n")


def write_junit(report: Written, path: str | Path) -> None:
    """JUnit XML: one testcase per case judged; a testcase without <failure> is a pass.

    Every name, attribute and text is made printable first (failure.printable): ElementTree
    writes a control character, a lone surrogate or U+FFFE as it is, which is not XML 1.0 (or
    not UTF-8), and a message or a block may quote whatever the implementation said.
    """
    cases = report.junit_cases()
    failures = sum(failure is not None for _, failure in cases)
    suite = ElementTree.Element(
        "testsuite",
        name="backprop-gate",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        time=f"{report.seconds:.3f}",
    )
    for name, failure in cases:
        test = ElementTree.SubElement(
            suite, "testcase", classname="backprop-gate", name=printable(name)
        )
        if failure is not None:
            node = ElementTree.SubElement(
                test, "failure", message=printable(failure.message), type=printable(failure.kind)
            )
            node.text = failure.render()  # printable lines: legal XML 1.0 between newlines
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def finish(report: Written, prog: str, *, json_path: str | None, junit_path: str | None) -> int:
    """The end of a command that judges: print the summary, write the --json and --junit-xml
    files asked for, and return the exit status (0 passed, 1 failed, 2 a file could not be
    written)."""
    try:
        print(report.summary(), flush=True)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): the verdict stands
        survive_closed_pipe()
    try:
        if json_path:
            write_json(report, json_path)
        if junit_path:
            write_junit(report, junit_path)
    except OSError as exc:
        print(f"{prog}: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def survive_closed_pipe() -> None:
    """After a BrokenPipeError on stdout (the reader went away, e.g. `| head`): point stdout
    at /dev/null, so that the rest of the run, and Python's exit, write nowhere instead of
    raising again (the verdict and the report files still stand)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
