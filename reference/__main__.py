"""`python -m reference`: a first thing to run. Trains a small network on XOR by backprop.

    python -m reference [train] [--epochs N] [--alpha A] [--seed S] [--every K] [--hidden N]

The network is 2-N-1 (tanh hidden layer, sigmoid output) with the squared error, trained by
full-batch gradient descent with the seed's rule Delta W^l = -alpha dE/dW^l, Delta b^l =
-alpha dE/db^l. It prints E every K epochs and ends with the learned outputs beside the targets.
`train` is the only subcommand so far and the default; others can join it. A bad command line
gets one line on stderr and exit status 2; a run that diverges gets one line and status 1.
"""

import argparse
import math
import sys
from collections.abc import Sequence

import numpy as np

from reference.command_line import CommandLineError, OneLineParser, whole_number
from reference.network import Architecture, error, forward, init_params
from reference.training import train

PROG = "python -m reference"
COMMANDS = ("train",)

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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="The backprop-oracle reference, from the shell.")
    commands = parser.add_subparsers(dest="command", metavar="{train}")
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
