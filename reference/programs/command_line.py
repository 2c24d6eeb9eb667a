"""What the project's command lines share: one-line errors, whole-number options, and a quiet
exit when the reader of stdout goes away.

`python -m reference` and `python -m verification` both report a command line that cannot run
as asked in one line on stderr with exit status 2, never with a traceback or a usage dump.
"""

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

CLOSED_PIPE_STATUS = 1
"""The exit status when stdout's reader has gone away: the status Python itself gives when it
dies of a broken pipe, so that a caller checking the status sees the same as before."""


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


def quiet_on_closed_pipe(program: Callable[[], int]) -> int:
    """program()'s exit status, or CLOSED_PIPE_STATUS, without a traceback, if the reader of
    stdout went away before everything was written (`python -m reference explain | head -5`).

    This is the handling that CPython's documentation of the signal module recommends ("Note on
    SIGPIPE"): catch BrokenPipeError around the whole program, flush stdout inside the same
    try so that a write still buffered fails there, then point stdout at the null device so
    that the flush at interpreter exit has nowhere to fail. Restoring SIGPIPE's default action
    instead would also kill the process on any other broken connection, so it is not done.
    """
    try:
        try:
            status = program()
        finally:  # also when argparse exits after --help: its text may still be buffered
            sys.stdout.flush()
    except BrokenPipeError:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return CLOSED_PIPE_STATUS
    return status
