"""`python -m reference`: trains on XOR and prints E per epoch; bad command lines exit 2; a
reader that goes away early ends it quietly."""

import io
import os
import subprocess
import sys

import pytest

from reference.programs.command_line import CLOSED_PIPE_STATUS, quiet_on_closed_pipe
from reference.programs.main import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reference", *args], capture_output=True, text=True, timeout=60
    )


def _E_lines(stdout: str) -> list[tuple[int, float]]:
    lines = stdout.splitlines()
    start = lines.index(next(line for line in lines if line.split() == ["epoch", "E"])) + 1
    rows = []
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2:
            break
        rows.append((int(parts[0]), float(parts[1])))
    return rows


def test_default_run_trains_xor_and_shows_outputs_beside_targets() -> None:
    done = run()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = _E_lines(done.stdout)
    assert [epoch for epoch, _ in rows] == list(range(0, 2001, 200))
    assert rows[-1][1] < rows[0][1] / 100, rows
    table = done.stdout.splitlines()[-4:]
    for line, target in zip(table, [0, 1, 1, 0], strict=True):
        *_, y, output = line.split()
        assert int(y) == target and round(float(output)) == target, line


def test_train_subcommand_is_the_default() -> None:
    options = ["--epochs", "30", "--every", "10", "--seed", "3", "--alpha", "1.5", "--hidden", "3"]
    explicit, implicit = run("train", *options), run(*options)
    assert explicit.returncode == implicit.returncode == 0
    assert explicit.stdout == implicit.stdout
    assert [epoch for epoch, _ in _E_lines(explicit.stdout)] == [0, 10, 20, 30]
    assert "sizes (2, 3, 1)" in explicit.stdout and "alpha = 1.5" in explicit.stdout


def test_last_epoch_is_printed_even_off_the_stride(capsys) -> None:
    assert main(["--epochs", "7", "--every", "3"]) == 0
    assert [epoch for epoch, _ in _E_lines(capsys.readouterr().out)] == [0, 3, 6, 7]


def test_bad_command_line_gets_one_line_and_exit_2_without_traceback() -> None:
    done = run("--epochs", "-5")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "--epochs" in done.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--alpha", "0"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["train", "--epochs", "ten"], "'ten' is not a whole number"),
        (["--every", "0"], "--every"),
        (["--bogus"], "--bogus"),
        (["evaluate"], "command 'evaluate' is unknown; valid commands: train, explain"),
    ],
)
def test_each_bad_option_is_named_in_one_line(capsys, argv, named) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and named in captured.err, captured.err


def test_a_diverging_run_gets_one_line_and_exit_1(monkeypatch, capsys) -> None:
    # tanh and sigmoid saturate, so XOR hardly diverges: stand in for a NaN found in training
    def diverge(*args, **kwargs):
        raise ValueError("layer 1: W of shape (2, 4) holds nan at index [0, 0]")

    monkeypatch.setattr("reference.programs.train_xor.train", diverge)
    assert main(["--epochs", "3"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "holds nan" in err and "--alpha" in err, err


# --- a reader that goes away: `python -m reference ... | head` -------------------------------


def _run_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m reference ARGS` with stdout a pipe whose reading end is already closed,
    so that its very first write to stdout fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "reference", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [[], ["explain"], ["explain", "--seed", "1"]])
def test_a_closed_stdout_ends_each_program_quietly_with_status_1(args: list[str]) -> None:
    """Status 1, as Python gives when it dies of a broken pipe; but nothing on stderr."""
    done = _run_into_a_closed_pipe(*args)
    assert done.stderr == "", done.stderr
    assert done.returncode == 1


class _ClosedPipe(io.StringIO):
    """A stdout whose reader has gone away: writes are buffered, the flush fails."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        return self.fd


def test_output_left_in_the_buffer_by_an_exit_is_caught_too(monkeypatch, tmp_path) -> None:
    """argparse's --help writes, then exits: the write still buffered fails only at the flush,
    which the guard does before the exit leaves it; stdout then points at the null device."""
    with open(tmp_path / "stdout", "w") as file:
        monkeypatch.setattr(sys, "stdout", _ClosedPipe(file.fileno()))

        def help_and_exit() -> int:
            print("usage: python -m reference [-h] {train,explain} ...")
            raise SystemExit(0)

        assert quiet_on_closed_pipe(help_and_exit) == CLOSED_PIPE_STATUS
        assert os.path.samestat(os.fstat(file.fileno()), os.stat(os.devnull))


def test_a_reader_that_stops_after_five_lines_gets_them_and_no_traceback() -> None:
    """`python -m reference --epochs 20000 --every 1 | head -5`: the 440 kB of output overflow
    the pipe's buffer, so the program is still writing when the reader closes its end."""
    child = subprocess.Popen(
        [sys.executable, "-m", "reference", "--epochs", "20000", "--every", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    head = [child.stdout.readline() for _ in range(5)]
    child.stdout.close()
    err = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=60) == 1
    assert err == "", err
    assert head[0].startswith("XOR: sizes (2, 4, 1)") and head[1].split() == ["epoch", "E"]
    assert [int(line.split()[0]) for line in head[2:]] == [0, 1, 2]


def test_the_package_imports_neither_its_programs_nor_argparse() -> None:
    """`import reference` is backprop alone; the command lines are a group of their own."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, reference; print(*sorted(sys.modules), sep=chr(10))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert "reference" in loaded and "reference.network" in loaded
    assert "argparse" not in loaded
    assert not [name for name in loaded if name.startswith("reference.programs")]
