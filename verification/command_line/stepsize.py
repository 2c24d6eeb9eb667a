"""`python -m verification stepsize`: the error of finite differences against the step size.

    python -m verification stepsize [--plot FILE.png] [--seed S] [--case I] [--entry ENTRY]
                                    [--activations A,B,...] [--losses A,B,...]
                                    [--max-depth L] [--max-width N] [--max-batch N]

For one entry of one case of the gate's stream, it prints the table of
verification.oracles.stepsize (and with --plot draws the figure). ENTRY is LAYER:W:I,J or
LAYER:b:J (layers count from 1), e.g. 1:W:0,2; by default the entry with the largest
|dE/dtheta|. The plot needs matplotlib: pip install 'backprop-oracle[plot]'.
"""

import argparse
import sys

from verification.command_line.options import (
    CommandLineError,
    add_case_options,
    bounded,
    case_options,
)
from verification.oracles.stepsize import Entry, choose_case, measure, plot, table
from verification.report.files import survive_closed_pipe

PROG = "backprop-gate stepsize"
SUMMARY = "the error of finite differences against the step size"
INSTALL_PLOT = "pip install 'backprop-oracle[plot]' (or pip install matplotlib)"


def _entry(text: str) -> Entry:
    """An argparse type: LAYER:W:I,J or LAYER:b:J."""
    parts = text.split(":")
    try:
        layer, param, index = int(parts[0]), parts[1], tuple(int(i) for i in parts[2].split(","))
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"{text!r} should be LAYER:W:I,J or LAYER:b:J, e.g. 1:W:0,2 or 2:b:1"
        ) from None
    if len(parts) != 3 or param not in ("W", "b") or len(index) != (2 if param == "W" else 1):
        raise argparse.ArgumentTypeError(
            f"{text!r} should be LAYER:W:I,J or LAYER:b:J, e.g. 1:W:0,2 or 2:b:1"
        )
    return Entry(layer, param, index)


DESCRIPTION = (
    "The error of central differences, Richardson extrapolation and the complex step against "
    "the step size, for one entry of one case of the gate."
)


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `stepsize`."""
    p.add_argument("--plot", metavar="FILE.png", help="draw the curves into this image file")
    add_case_options(p, cases=False)
    p.add_argument(
        "--case",
        type=bounded("case"),
        help="case I of the stream (default: the first plain case of smooth, curved activations)",
    )
    p.add_argument(
        "--entry",
        type=_entry,
        help="LAYER:W:I,J or LAYER:b:J (default: the entry with the largest |dE/dtheta|)",
    )


def _matplotlib_figure():
    """matplotlib's Figure class (no pyplot, no display), or CommandLineError saying how to
    install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise CommandLineError(
            f"--plot needs matplotlib, which is not installed; install it with {INSTALL_PLOT}"
        ) from None
    return Figure


def run(args: argparse.Namespace) -> int:
    """Print the table (and draw the plot); 0 done, 2 the command could not run as asked."""
    try:
        Figure = _matplotlib_figure() if args.plot else None
        case = choose_case(args.seed, args.case, case_options(args))
        curves = measure(case, args.entry)
    except (CommandLineError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if args.plot:
        try:
            plot(curves, args.plot, Figure)
        except (OSError, ValueError) as exc:  # an unwritable path, an unknown image format
            print(f"{PROG}: error: cannot write the plot {args.plot}: {exc}", file=sys.stderr)
            return 2
    try:
        print(table(curves))
        if args.plot:
            print(f"wrote {args.plot}")
    except BrokenPipeError:  # the reader went away (e.g. `| head`)
        survive_closed_pipe()
    return 0
