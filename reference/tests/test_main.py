"""`python -m reference`: trains on XOR and prints E per epoch; bad command lines exit 2."""

import subprocess
import sys

import pytest

from reference.__main__ import main


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

    monkeypatch.setattr("reference.__main__.train", diverge)
    assert main(["--epochs", "3"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "holds nan" in err and "--alpha" in err, err
