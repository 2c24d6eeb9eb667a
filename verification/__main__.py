"""The command line of the gate (CONTRACT section 5).

    python -m verification [--impl MODULE:FUNCTION | --impl PATH/TO/FILE.py:FUNCTION]
                           [--cases N] [--seed S] [--activations A,B] [--losses A,B]
                           [--max-depth L] [--max-width N] [--max-batch N]
                           [--json PATH] [--junit-xml PATH] [--workers N] [--case I]
                           [--dtype float64|float32]

Exit status: 0 every case passed; 1 some case failed; 2 the command could not run as asked,
with a one-line reason on stderr and no traceback.
"""

import argparse
import importlib
import sys
from collections.abc import Sequence

from reference.programs.command_line import CommandLineError, OneLineParser, whole_number
from verification.case_options import add_case_options
from verification.gate import check
from verification.judge import FLOAT_DTYPES
from verification.loading import ImplementationError

PROG = "backprop-gate"


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description="Check a backprop gradient implementation against torch.autograd and "
        "finite differences on random networks.",
    )
    p.add_argument(
        "--impl", help="MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION (default: the reference itself)"
    )
    add_case_options(p)
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    p.add_argument(
        "--workers",
        type=whole_number(1),
        default=1,
        help="processes to spread the cases over (1); same report as serial",
    )
    p.add_argument(
        "--case", type=whole_number(0), help="judge only case I of the stream (a reproduction)"
    )
    p.add_argument(
        "--dtype",
        choices=tuple(FLOAT_DTYPES),
        default="float64",
        help="the precision the implementation computes in (float64)",
    )
    return p


def _progress_bar():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\r" + " " * (width + 24) + "\r")
        sys.stderr.flush()

    return show


SUBCOMMANDS: dict[str, str] = {
    "vectors": "verification.vectors",
    "stepsize": "verification.stepsize",
}
"""Subcommands (`python -m verification NAME ...`), each a module with main(argv) -> int."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate (or a subcommand); return the exit status 0, 1 or 2 of CONTRACT section 5."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    return _gate(argv)


def _gate(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
        report = check(
            args.impl,
            cases=args.cases,
            seed=args.seed,
            activations=args.activations,
            losses=args.losses,
            max_depth=args.max_depth,
            max_width=args.max_width,
            max_batch=args.max_batch,
            dtype=args.dtype,
            workers=args.workers,
            case=args.case,
            progress=_progress_bar(),
        )
    except (CommandLineError, ImplementationError, ValueError, TypeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return report.finish(PROG, json_path=args.json, junit_path=args.junit_xml)


if __name__ == "__main__":
    sys.exit(main())
