"""The command line of the gate (docs/contract.md, section 5).

    python -m verification [--impl MODULE:FUNCTION | --impl PATH/TO/FILE.py:FUNCTION]
                           [--cases N] [--seed S] [--case INDEX] [--dtype float64|float32]
                           [--activations A,B] [--output-activations A,B] [--losses A,B]
                           [--max-depth L] [--max-width N] [--max-batch N]
                           [--timeout SECONDS] [--memory-limit SIZE] [--in-process]
                           [--workers N | --scheduler ADDRESS] [--max-failures K]
                           [--json PATH] [--junit-xml PATH] [--jsonl PATH]
    python -m verification vectors export|check|schema ...
    python -m verification stepsize ...

`backprop-gate` is the same command. Exit status: 0 every case passed; 1 some case failed
(whatever the implementation does or returns on a case is a failed case); 2 the command could
not run as asked, with a one-line reason on stderr and no traceback.
"""

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor

from verification.command_line import stepsize
from verification.command_line.options import (
    MEMORY_BOUNDS,
    TIMEOUT_BOUNDS,
    CommandLineError,
    OneLineParser,
    add_case_options,
    bounded,
    bounds_text,
    byte_size,
    case_options,
    real_number,
    resolved,
)
from verification.gate.isolation import DEFAULT_MEMORY
from verification.gate.loading import ImplementationError
from verification.oracles.precision import PRECISIONS
from verification.report.failure import printable
from verification.vectors import command as vectors

PROG = "backprop-gate"
PROGRESS_SECONDS = 5.0  # off a terminal, a progress line this often


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description="Check a backprop gradient implementation against torch.autograd and "
        "finite differences on random networks. Exit status: 0 every case passed, 1 some "
        "case failed, 2 the command could not run as asked.",
    )
    p.add_argument(
        "--impl",
        metavar="MODULE:FUNCTION",
        help="MODULE:FUNCTION or PATH/TO/FILE.py:FUNCTION (default: this project's reference)",
    )
    add_case_options(p)
    p.add_argument(
        "--case",
        type=bounded("case"),
        metavar="INDEX",
        help="judge only case INDEX of the stream (a reproduction)",
    )
    p.add_argument(
        "--dtype",
        choices=tuple(PRECISIONS),
        default="float64",
        help="the precision the implementation computes in (float64)",
    )
    p.add_argument(
        "--timeout",
        type=real_number(*TIMEOUT_BOUNDS),
        metavar="SECONDS",
        help=f"seconds one call may take, {TIMEOUT_BOUNDS[0]:g}..{TIMEOUT_BOUNDS[1]:g}, and "
        "the import (at least 5 s) (default: 5 s plus 1 s per 1e8 multiply-adds of the case, "
        "60 s more for a child's first call, and 60 s for the import)",
    )
    p.add_argument(
        "--memory-limit",
        type=byte_size(*MEMORY_BOUNDS),
        default=DEFAULT_MEMORY,
        metavar="SIZE",
        help="resident memory the implementation's process may use, 64M..16G (4G)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the implementation inside the gate's own process: for debugging; NOT "
        "isolated (what it does can change the verdict)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=bounded("workers"),
        metavar="N",
        default=1,
        help=f"local processes to spread the cases over, {bounds_text('workers')} (1); the "
        "report is the same as a serial run's",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the cases on a Dask cluster, e.g. tcp://host:8786 (needs dask.distributed)",
    )
    p.add_argument(
        "--max-failures",
        type=bounded("max_failures"),
        metavar="K",
        help="stop after K failing cases",
    )
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--junit-xml", metavar="PATH", help="write the report as JUnit XML")
    p.add_argument(
        "--jsonl", metavar="PATH", help="append each failure to PATH as JSON Lines, as found"
    )
    commands = p.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, module in SUBCOMMANDS.items():
        module.configure(
            commands.add_parser(
                name, prog=module.PROG, help=module.SUMMARY, description=module.DESCRIPTION
            )
        )
    return p


SUBCOMMANDS = {"vectors": vectors, "stepsize": stepsize}
"""`python -m verification NAME ...`: each module has PROG, SUMMARY, DESCRIPTION, configure(p)
(its arguments) and run(args) -> exit status."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate (or a subcommand); return the exit status 0, 1 or 2 (docs/contract.md,
    section 5)."""
    try:
        args, extra = parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
        if extra:
            prog = SUBCOMMANDS[args.command].PROG if args.command else PROG
            raise CommandLineError(f"unrecognized arguments: {' '.join(extra)}", prog)
    except CommandLineError as exc:
        print(f"{exc.prog or PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    if args.command is not None:
        return SUBCOMMANDS[args.command].run(args)
    return _gate(args)


def _gate(args: argparse.Namespace) -> int:
    json_path, junit_path, jsonl_path = map(resolved, (args.json, args.junit_xml, args.jsonl))
    client = None
    try:
        options = case_options(args)
        client = _cluster(args.scheduler) if args.scheduler else None
        executor = client.get_executor() if client is not None else None
        if client is not None:
            _preload(client)
        from verification.gate.run import check  # the oracles load torch: after the parse

        report = check(
            args.impl,
            cases=args.cases,
            seed=args.seed,
            activations=options.activations,
            output_activations=options.output_activations,
            losses=options.losses,
            max_depth=args.max_depth,
            max_width=args.max_width,
            max_batch=args.max_batch,
            dtype=args.dtype,
            workers=args.workers,
            executor=executor,
            case=args.case,
            in_process=args.in_process,
            timeout=args.timeout,
            memory_limit=args.memory_limit,
            max_failures=args.max_failures,
            jsonl=jsonl_path,
            progress=_progress(),
        )
    except BrokenExecutor as exc:  # a worker of the gate's pool was killed (docs/isolation.md)
        print(f"{PROG}: error: a worker process of the gate ended: {printable(str(exc))}",
              file=sys.stderr)  # fmt: skip
        return 2
    except (CommandLineError, ImplementationError, ValueError, TypeError, OSError) as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    finally:
        if client is not None:  # the workers' child processes end before the report is out
            from verification.gate.chunks import close_callers

            with contextlib.suppress(Exception):
                client.run(close_callers)
            client.close()
    return report.finish(PROG, json_path=json_path, junit_path=junit_path)


def _preload(client: "distributed.Client") -> None:  # noqa: F821
    """Every worker of the cluster imports what it needs before any child starts there
    (verification.gate.preload); CommandLineError if one cannot."""
    from verification.gate.preload import for_judging

    try:
        client.run(for_judging)
    except Exception as exc:
        raise CommandLineError(
            f"a worker of the Dask cluster cannot import the gate's modules: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _cluster(address: str) -> "distributed.Client":  # noqa: F821
    """A client of the Dask cluster at `address`; CommandLineError if there is none."""
    try:
        from distributed import Client
    except ImportError:
        raise CommandLineError(
            "--scheduler needs dask.distributed: pip install 'backprop-oracle[dask]'"
        ) from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise CommandLineError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    return client


def _progress() -> Callable[[int, int, int], None]:
    """A progress bar on a terminal; elsewhere (a CI log) a line every PROGRESS_SECONDS."""
    start = last = time.monotonic()
    terminal = sys.stderr.isatty()

    def show(done: int, total: int, failed: int) -> None:
        nonlocal last
        now = time.monotonic()
        rate = done / max(now - start, 1e-9)
        try:
            if terminal:
                width = 30
                filled = width * done // total
                sys.stderr.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}, {failed} failed"
                )
                if done == total:
                    sys.stderr.write("\r" + " " * (width + 40) + "\r")
                sys.stderr.flush()
            elif now - last >= PROGRESS_SECONDS or (
                done == total and now - start >= PROGRESS_SECONDS
            ):
                last = now
                print(
                    f"{PROG}: {done}/{total} cases, {rate:.0f} cases/s, {failed} failed",
                    file=sys.stderr,
                    flush=True,
                )
        except (OSError, ValueError):  # stderr closed: progress is not worth failing for
            pass

    return show


if __name__ == "__main__":
    sys.exit(main())
