"""The command `python -m reference`: its parser and main(), which runs one of the programs.

    python -m reference [train] [--epochs N] [--alpha A] [--seed S] [--every K] [--hidden N]
    python -m reference explain [--sizes 2,2,2] [--activations A[,B...]] [--loss NAME]
                                [--seed S] [--batch N] [--alpha A] [--digits D]

`train` (the default) trains a 2-N-1 network on XOR and prints E every K epochs
(reference/programs/train_xor.py). `explain` prints one step of backprop on a small network
with every number, for pencil and paper (reference/programs/explain.py).

Exit status: 0 done; 1 a run that diverges (one line on stderr), or stdout closed by its reader
before the end (`| head`: nothing on stderr); 2 a bad command line (one line on stderr).
"""

import argparse
import math
import sys
from collections.abc import Sequence

import numpy as np

from reference.losses import LOSSES
from reference.programs import explain
from reference.programs.command_line import (
    CommandLineError,
    OneLineParser,
    quiet_on_closed_pipe,
    whole_number,
)
from reference.programs.train_xor import run_train

PROG = "python -m reference"
COMMANDS = ("train", "explain")


def _learning_rate(text: str) -> float:
    try:
        alpha = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(alpha) and alpha > 0):
        raise argparse.ArgumentTypeError(f"{text} should be a finite number > 0")
    return alpha


def _digits(text: str) -> int:
    digits = whole_number(1)(text)
    if digits > 17:
        raise argparse.ArgumentTypeError(f"{digits} should be at most 17 (float64's round trip)")
    return digits


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="The backprop-oracle reference, from the shell.")
    commands = parser.add_subparsers(dest="command", metavar="{train,explain}")
    trainer = commands.add_parser(
        "train",
        help="train a 2-N-1 network on XOR and print E per epoch (the default)",
        description="Full-batch gradient descent on XOR: Delta W^l = -alpha dE/dW^l.",
    )
    trainer.add_argument(
        "--epochs", type=whole_number(0), default=2000, help="epochs (default 2000)"
    )
    trainer.add_argument(
        "--alpha", type=_learning_rate, default=2.0, help="learning rate alpha (default 2.0)"
    )
    trainer.add_argument(
        "--seed", type=whole_number(0), default=0, help="seed of the initial parameters (default 0)"
    )
    trainer.add_argument(
        "--every", type=whole_number(1), default=200, help="print E every K epochs (default 200)"
    )
    trainer.add_argument(
        "--hidden",
        type=whole_number(1),
        default=4,
        help="width n_1 of the hidden layer (default 4)",
    )
    explainer = commands.add_parser(
        "explain",
        help="print one step of backprop on a small network, every number, for pencil and paper",
        description="One step of backprop in the seed's notation: forward pass, each delta^l "
        "with its equation, the gradients, and the parameters after one gradient descent step. "
        "By default the 2-2-2 sigmoid network of the classic worked example.",
    )
    explainer.add_argument(
        "--sizes",
        type=explain.sizes_type,
        default=explain.DEFAULT_SIZES,
        help="widths n_0,...,n_L (default 2,2,2)",
    )
    explainer.add_argument(
        "--activations",
        type=explain.activations_type,
        default=(explain.DEFAULT_ACTIVATION,),
        help="one activation for every layer, or one per layer (default sigmoid)",
    )
    explainer.add_argument(
        "--loss",
        choices=tuple(LOSSES),
        default=explain.DEFAULT_LOSS,
        help="the loss (default squared_error)",
    )
    explainer.add_argument(
        "--seed",
        type=whole_number(0),
        help="draw the parameters and the batch from this seed (default: the classic numbers)",
    )
    explainer.add_argument(
        "--batch",
        type=whole_number(1),
        help=f"batch size n, at most {explain.MAX_BATCH} (default 1)",
    )
    explainer.add_argument(
        "--alpha",
        type=_learning_rate,
        default=explain.DEFAULT_ALPHA,
        help="learning rate alpha (default 0.5)",
    )
    explainer.add_argument(
        "--digits",
        type=_digits,
        default=explain.DEFAULT_DIGITS,
        help="significant digits of every number, 1 to 17 (default 10; 17 round-trips)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 1 training failed or stdout closed
    early, 2 bad usage)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return quiet_on_closed_pipe(lambda: _run(args))


def _run(args: list[str]) -> int:
    try:
        if args and not args[0].startswith("-") and args[0] not in COMMANDS:
            raise CommandLineError(
                f"command {args[0]!r} is unknown; valid commands: {', '.join(COMMANDS)}"
            )
        if not args or args[0] not in (*COMMANDS, "-h", "--help"):
            args.insert(0, "train")  # no subcommand means train
        options = build_parser().parse_args(args)
        if options.command == "explain":
            if options.batch is not None and options.batch > explain.MAX_BATCH:
                raise CommandLineError(
                    f"argument --batch: {options.batch} should be at most {explain.MAX_BATCH} "
                    "(to fit on paper)"
                )
            ex = explain.example(
                options.sizes, options.activations, options.loss, options.seed, options.batch
            )
            print(explain.explain(ex, alpha=options.alpha, digits=options.digits))
            return 0
    except CommandLineError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        # a too large alpha overflows: the NaN it leaves is reported once, below
        with np.errstate(over="ignore", invalid="ignore"):
            run_train(options.epochs, options.alpha, options.seed, options.every, options.hidden)
    except ValueError as e:  # a NaN or Inf in the parameters: alpha too large
        print(f"{PROG}: training failed ({e}); try a smaller --alpha", file=sys.stderr)
        return 1
    return 0
