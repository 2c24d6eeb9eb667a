"""`python -m reference`: a first thing to run. Trains a small network on XOR by backprop.

    python -m reference [train] [--epochs N] [--alpha A] [--seed S] [--every K] [--hidden N]
    python -m reference explain [--sizes 2,2,2] [--activations A[,B...]] [--loss NAME]
                                [--seed S] [--batch N] [--alpha A] [--digits D]

`train` (the default): the network is 2-N-1 (tanh hidden layer, sigmoid output) with the squared
error, trained by full-batch gradient descent with the seed's rule Delta W^l = -alpha dE/dW^l,
Delta b^l = -alpha dE/db^l. It prints E every K epochs and ends with the learned outputs beside
the targets. `explain` prints one step of backprop on a small network with every number, for
pencil and paper (reference/explain.py). A bad command line gets one line on stderr and exit
status 2; a run that diverges gets one line and status 1.
"""

import argparse
import math
import sys
from collections.abc import Sequence

import numpy as np

from reference import explain
from reference.command_line import CommandLineError, OneLineParser, whole_number
from reference.losses import LOSSES
from reference.network import Architecture, error, forward, init_params
from reference.training import train

PROG = "python -m reference"
COMMANDS = ("train", "explain")

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


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


def run_train(epochs: int, alpha: float, seed: int, every: int, hidden: int) -> None:
    """Train on XOR, printing E at epoch 0 (before training), every `every` epochs and the last."""
    arch = Architecture(sizes=(2, hidden, 1), activations=("tanh", "sigmoid"), loss="squared_error")
    params = init_params(arch, np.random.default_rng(seed))
    print(
        f"XOR: sizes {arch.sizes}, activations {', '.join(arch.activations)}, loss {arch.loss}; "
        f"alpha = {alpha}, {epochs} epochs, seed {seed}"
    )
    print(f"{'epoch':>7}  E")
    print(f"{0:>7}  {float(error(arch, params, XOR_X, XOR_Y)):.6e}")
    result = train(arch, params, XOR_X, XOR_Y, alpha=alpha, epochs=epochs)
    for epoch, E in enumerate(result.E, start=1):
        if epoch % every == 0 or epoch == epochs:
            print(f"{epoch:>7}  {E:.6e}")
    h_L = forward(arch, result.params, XOR_X).h[arch.L]
    print(f"{'x':>10}  {'target':>6}  {'output h^L':>10}")
    for x, y, h in zip(XOR_X, XOR_Y, h_L, strict=True):
        print(f"{x[0]:>4.0f} {x[1]:>4.0f}  {y[0]:>6.0f}  {h[0]:>10.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 1 training failed, 2 bad usage)."""
    args = list(sys.argv[1:] if argv is None else argv)
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


if __name__ == "__main__":
    sys.exit(main())
