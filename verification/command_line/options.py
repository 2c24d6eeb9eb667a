"""What the gate's command lines share: one-line errors, bounded numbers, and the options that
choose the stream of cases (docs/contract.md, section 5), used by `python -m verification` and
its subcommands.

A command line that cannot run as asked is reported in one line on stderr with exit status 2,
never with a traceback or a usage dump.
"""

import argparse
import os
from collections.abc import Callable
from typing import NoReturn

from reference import ACTIVATIONS, LOSSES
from verification.cases import CaseOptions


class CommandLineError(Exception):
    """A command line that cannot run as asked: reported in one line, exit status 2, by the
    command `prog` (e.g. "backprop-gate vectors"), or by the caller's own if None."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line raises CommandLineError instead of printing the usage
    and exiting, so that the caller reports it in one line."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(message, self.prog)


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: an integer in minimum..maximum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{value:.3g} is out of bounds: it should be in {minimum:,}..{maximum:,}"
                if abs(value) >= 1e9
                else f"{value} is out of bounds: it should be in {minimum:,}..{maximum:,}"
            )
        return value

    return parse


def real_number(minimum: float, maximum: float) -> Callable[[str], float]:
    """An argparse type: a finite number in minimum..maximum."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
        if not minimum <= value <= maximum:  # NaN fails too
            raise argparse.ArgumentTypeError(
                f"{text[:40]} is out of bounds: it should be in {minimum:g}..{maximum:g}"
            )
        return value

    return parse


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def byte_size(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: a size in bytes, with an optional K, M or G (powers of 1024)."""

    def parse(text: str) -> int:
        number, unit = text.strip().rstrip("iBb"), ""
        if number[-1:].upper() in _UNITS:
            number, unit = number[:-1], number[-1].upper()
        try:
            value = int(float(number) * _UNITS[unit])
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is not a size (e.g. 512M or 4G)"
            ) from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text[:40]} is out of bounds: it should be in {minimum >> 20:,}M.."
                f"{maximum >> 30:,}G"
            )
        return value

    return parse


BOUNDS = {
    "cases": (1, 10_000_000),
    "seed": (0, 2**63 - 1),
    "case": (0, 2**63 - 1),
    "max_depth": (1, 16),
    "max_width": (1, 64),
    "max_batch": (1, 64),
    "workers": (1, 32),
    "max_failures": (1, 10_000_000),
}
"""What the command line accepts, and why: a run keeps about one byte per case, so ten million
cases fit any machine; the oracles of the largest network these bounds allow (16 layers of 64
units, 64 examples) take seconds, and a case's memory stays below 1 GB; 32 workers, each with
torch loaded (0.3 GB) and a child process, fit 24 GB with room to spare."""

TIMEOUT_BOUNDS = (0.01, 86_400.0)  # seconds: up to a day per call
MEMORY_BOUNDS = (64 << 20, 16 << 30)  # bytes of a child's resident memory: 64 MiB to 16 GiB


def bounded(name: str) -> Callable[[str], int]:
    """The argparse type of the whole-number option `name` (e.g. "max_width"): BOUNDS."""
    return whole_number(*BOUNDS[name])


def bounds_text(name: str) -> str:
    """ "1..64", for --help."""
    lo, hi = BOUNDS[name]
    return f"{lo:,}..{hi:,}"


def names_option(valid: dict, what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names, each a key of `valid`."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in valid]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(map(repr, unknown)) or '(none given)'}; "
                f"valid: {','.join(valid)}"
            )
        return names

    return parse


def add_case_options(p: argparse.ArgumentParser, *, cases: bool = True) -> None:
    """--cases (unless cases=False), --seed, --activations, --output-activations, --losses,
    --max-depth, --max-width and --max-batch, with the gate's defaults and bounds."""
    if cases:
        p.add_argument(
            "--cases",
            type=bounded("cases"),
            metavar="N",
            default=200,
            help=f"number of cases, {bounds_text('cases')} (200)",
        )
    p.add_argument(
        "--seed",
        type=bounded("seed"),
        default=0,
        metavar="S",
        help="seed of the case stream, >= 0 (0)",
    )
    p.add_argument(
        "--activations",
        type=names_option(ACTIVATIONS, "activation"),
        metavar="NAME,...",
        help="comma-separated activations to draw from (all)",
    )
    p.add_argument(
        "--output-activations",
        type=names_option(ACTIVATIONS, "activation"),
        metavar="NAME,...",
        help="comma-separated activations for the output layer alone (as --activations)",
    )
    p.add_argument(
        "--losses",
        type=names_option(LOSSES, "loss"),
        metavar="NAME,...",
        help="comma-separated losses to draw from (all)",
    )
    for name, default, what in (
        ("max_depth", 6, "largest L"),
        ("max_width", 16, "largest layer width"),
        ("max_batch", 8, "largest batch n"),
    ):
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=bounded(name),
            default=default,
            metavar={"max_depth": "L", "max_width": "N", "max_batch": "N"}[name],
            help=f"{what}, {bounds_text(name)} ({default})",
        )


def case_options(args: argparse.Namespace) -> CaseOptions:
    """CaseOptions from the options of add_case_options; CommandLineError if no case can be
    drawn under them (e.g. a regime needs an activation that was left out)."""
    default = CaseOptions()
    try:
        return CaseOptions(
            activations=args.activations or default.activations,
            output_activations=args.output_activations,
            losses=args.losses or default.losses,
            max_depth=args.max_depth,
            max_width=args.max_width,
            max_batch=args.max_batch,
        )
    except (ValueError, TypeError) as exc:
        raise CommandLineError(str(exc)) from None


def resolved(path: str | None) -> str | None:
    """`path` made absolute now, before any implementation code runs (which may change the
    current folder)."""
    return os.path.abspath(path) if path else None
