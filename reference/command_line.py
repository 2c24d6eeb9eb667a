"""What the project's command lines share: one-line errors and whole-number options.

`python -m reference` and `python -m verification` both report a command line that cannot run
as asked in one line on stderr with exit status 2, never with a traceback or a usage dump.
"""

import argparse
from collections.abc import Callable
from typing import NoReturn


class CommandLineError(Exception):
    """A command line that cannot run as asked: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line raises CommandLineError instead of printing the usage
    and exiting, so that the caller reports it in one line."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(message)


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} should be at least {minimum}")
        return value

    return parse
