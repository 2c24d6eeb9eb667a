"""`python -m verification vectors`: golden test vectors from the command line.

    python -m verification vectors export --out DIR [--cases N] [--seed S] [--case I]
                                          [--activations A,B] [--losses A,B]
                                          [--max-depth L] [--max-width N] [--max-batch N]
    python -m verification vectors check DIR RESULTS [--case I] [--dtype float64|float32]
                                         [--json PATH] [--junit-xml PATH]
    python -m verification vectors schema

Exit status: 0 every case passed, 1 some case failed (or a result is missing, malformed, or
matches no vector), 2 the command could not run as asked.
"""

import argparse
import sys
import time

from verification.command_line.options import (
    CommandLineError,
    add_case_options,
    bounded,
    case_options,
    resolved,
)
from verification.oracles.precision import PRECISIONS
from verification.report.failure import printable
from verification.report.files import finish
from verification.vectors.check import check_results
from verification.vectors.export import SCHEMA_FILE, SCHEMA_VERSION, export, schema_text

PROG = "backprop-gate vectors"
SUMMARY = "golden test vectors: the gate for code in any language"
DESCRIPTION = "Golden test vectors: the gate for gradient code in any language."


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `vectors`: its subcommands export, check and schema."""
    commands = p.add_subparsers(dest="action", required=True, metavar="export|check|schema")
    out = commands.add_parser(
        "export", help="write one JSON vector file per case of the gate's stream"
    )
    out.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    add_case_options(out)
    out.add_argument("--case", type=bounded("case"), help="export only case I of the stream")
    judge = commands.add_parser(
        "check", help="judge result files written by another program against the vectors"
    )
    judge.add_argument("vectors", metavar="DIR", help="the vectors written by export")
    judge.add_argument("results", metavar="RESULTS", help="one result file per vector file")
    judge.add_argument("--case", type=bounded("case"), help="judge only case I")
    judge.add_argument(
        "--dtype",
        choices=tuple(PRECISIONS),
        default="float64",
        help="the precision the program computes in (float64)",
    )
    judge.add_argument("--json", metavar="PATH", help="write the report as JSON")
    judge.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    commands.add_parser("schema", help=f"print the JSON Schema of the files ({SCHEMA_FILE})")


def run(args: argparse.Namespace) -> int:
    """`python -m verification vectors ...`; returns the exit status 0, 1 or 2."""
    try:
        if args.action == "schema":
            print(schema_text(), end="")
            return 0
        if args.action == "export":
            start = time.perf_counter()
            paths = export(
                args.out,
                cases=args.cases,
                seed=args.seed,
                options=case_options(args),
                case=args.case,
            )
            print(
                f"wrote {len(paths)} vector files (schema version {SCHEMA_VERSION}) to "
                f"{printable(args.out)} in {time.perf_counter() - start:.1f} s"
            )
            return 0
        json_path, junit_path = resolved(args.json), resolved(args.junit_xml)
        report = check_results(args.vectors, args.results, dtype=args.dtype, case=args.case)
    except (CommandLineError, ValueError, TypeError, OSError) as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    return finish(report, PROG, json_path=json_path, junit_path=junit_path)
