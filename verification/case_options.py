"""The command-line options that choose the gate's stream of cases (CONTRACT section 5), shared
by `python -m verification` and its subcommands `vectors` and `stepsize`."""

import argparse
from collections.abc import Callable

from reference import ACTIVATIONS, LOSSES
from reference.programs.command_line import CommandLineError, whole_number
from verification.cases import CaseOptions


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
    """--cases (unless cases=False), --seed, --activations, --losses, --max-depth,
    --max-width and --max-batch, with the gate's defaults."""
    if cases:
        p.add_argument("--cases", type=whole_number(1), default=200, help="number of cases (200)")
    p.add_argument("--seed", type=whole_number(0), default=0, help="seed of the case stream (0)")
    p.add_argument(
        "--activations",
        type=names_option(ACTIVATIONS, "activation"),
        help="comma-separated activations to draw from (all)",
    )
    p.add_argument(
        "--losses",
        type=names_option(LOSSES, "loss"),
        help="comma-separated losses to draw from (all)",
    )
    p.add_argument("--max-depth", type=whole_number(1), default=6, help="largest L (6)")
    p.add_argument("--max-width", type=whole_number(1), default=16, help="largest layer width (16)")
    p.add_argument("--max-batch", type=whole_number(1), default=8, help="largest batch n (8)")


def case_options(args: argparse.Namespace) -> CaseOptions:
    """CaseOptions from the options of add_case_options; CommandLineError if no case can be
    drawn under them (e.g. a regime needs an activation that was left out)."""
    default = CaseOptions()
    try:
        return CaseOptions(
            activations=args.activations or default.activations,
            losses=args.losses or default.losses,
            max_depth=args.max_depth,
            max_width=args.max_width,
            max_batch=args.max_batch,
        )
    except (ValueError, TypeError) as exc:
        raise CommandLineError(str(exc)) from None
