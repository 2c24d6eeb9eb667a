"""Writing a report: the terminal summary, JSON and JUnit XML, and the end of a command.

Any report with `ok`, `summary()`, `to_dict()`, `junit_cases()` and `seconds` is written the
same way: the gate's Report and the report of golden vectors alike.
"""

import json
import sys
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

from verification.report.failure import Failure


class Written(Protocol):
    """What a report must offer to be printed and written."""

    seconds: float

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict: ...

    def junit_cases(self) -> list[tuple[str, Failure | None]]: ...


def write_json(report: Written, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=1, allow_nan=True) + "\n")


def write_junit(report: Written, path: str | Path) -> None:
    """JUnit XML: one testcase per case judged; a testcase without <failure> is a pass."""
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
        test = ElementTree.SubElement(suite, "testcase", classname="backprop-gate", name=name)
        if failure is not None:
            node = ElementTree.SubElement(
                test, "failure", message=failure.message, type=failure.kind
            )
            node.text = failure.render()
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def finish(report: Written, prog: str, *, json_path: str | None, junit_path: str | None) -> int:
    """The end of a command that judges: print the summary, write the --json and --junit-xml
    files asked for, and return the exit status (0 passed, 1 failed, 2 a file could not be
    written)."""
    try:
        print(report.summary())
    except BrokenPipeError:  # the reader went away (e.g. `| head`): the verdict stands
        sys.stderr.close()
    try:
        if json_path:
            write_json(report, json_path)
        if junit_path:
            write_junit(report, junit_path)
    except OSError as exc:
        print(f"{prog}: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1
