"""`python -m verification stepsize`: the V of central differences, Richardson and the complex
step, measured against the reference's gradient; the table, the plot, and one-line errors."""

import sys

import numpy as np
import pytest

import reference
from verification.cases import CaseOptions
from verification.command_line.main import main as gate_main
from verification.command_line.stepsize import INSTALL_PLOT
from verification.oracles.stepsize import (
    STEP_EXPONENTS,
    TABLE_STRIDE,
    Curves,
    choose_case,
    measure,
    smooth_and_curved,
)

SMALL = ["--max-depth", "2", "--max-width", "3", "--max-batch", "2"]
SMALL_OPTIONS = CaseOptions(
    activations=("tanh", "sigmoid"),
    losses=("squared_error", "cross_entropy"),
    max_depth=2,
    max_width=3,
    max_batch=2,
)
SEEDS = (0, 2, 4)


def main(argv: list[str]) -> int:
    """`python -m verification stepsize ARGV`."""
    return gate_main(["stepsize", *argv])


def v_shape_problems(curves: Curves) -> list[str]:
    """What is wrong with the curves, if anything, for a smooth case measured against the
    exact gradient: empty when they have the shape that the theory of each estimate gives."""
    problems = []
    top = curves.steps[0]  # max(|theta|, 1), to a power of 2
    small_h = curves.steps <= 1e-8 * top  # the complex step's truncation h^2 is below eps
    if curves.complex[small_h].max() > 1e-14:  # rounding only: a few eps relative
        problems.append(f"complex step off by {curves.complex[small_h].max():.1e} at small h")
    best = int(np.argmin(curves.central))
    if not 1e-8 * top <= curves.steps[best] <= 1e-3 * top:  # near eps^(1/3) ~ 6e-6
        problems.append(f"central differences best at s = {curves.steps[best]:.1e}")
    if not curves.central[best] < 1e-8:  # about eps^(2/3) ~ 4e-11
        problems.append(f"central differences at best {curves.central[best]:.1e}")
    if not (curves.central[0] > 100 * curves.central[best] < curves.central[-1]):
        problems.append("central differences: no V (truncation right, rounding left)")
    if not curves.richardson.min() < curves.central[best]:
        problems.append("Richardson no better than central differences at their best")
    return problems


@pytest.fixture(scope="module", params=SEEDS)
def curves(request) -> Curves:
    return measure(choose_case(request.param, None, SMALL_OPTIONS))


def test_default_case_is_plain_smooth_and_curved(curves: Curves) -> None:
    assert smooth_and_curved(curves.case), curves.case.describe()
    assert curves.case.regime == "plain" and curves.relative


def test_curves_show_truncation_against_rounding(curves: Curves) -> None:
    assert v_shape_problems(curves) == [], curves.case.describe()


def test_curves_measured_against_a_wrong_gradient_are_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the check above can fail: a reference gradient off by 1e-9 lifts the complex step's floor
    exact = reference.gradients

    def off_by_1e9(*args):
        return [(W * (1 + 1e-9), b * (1 + 1e-9)) for W, b in exact(*args)]

    monkeypatch.setattr(reference, "gradients", off_by_1e9)
    curves = measure(choose_case(0, None, SMALL_OPTIONS))
    assert any("complex step off" in problem for problem in v_shape_problems(curves))


def test_gate_error_estimate_covers_its_richardson_error(curves: Curves) -> None:
    # where s is small enough for the asymptotics (s <= 2^-4 max(|theta|, 1))
    asymptotic = curves.steps <= curves.steps[0] / 16
    over = curves.richardson[asymptotic] > curves.richardson_estimate[asymptotic]
    assert not over.any(), curves.steps[asymptotic][over]
    assert curves.gate_richardson < 1e-8 and curves.gate_complex < 1e-14


def test_default_entry_is_the_largest_gradient_entry(curves: Curves) -> None:
    grads = reference.gradients(curves.case.arch, curves.case.params, curves.case.x, curves.case.y)
    largest = max(float(np.abs(a).max()) for pair in grads for a in pair)
    assert abs(curves.g) == largest


def test_entry_option_picks_the_parameter(capsys) -> None:
    assert main(["--seed", "2", "--entry", "1:b:1", *SMALL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dE/db^1[1] of case ")
    case_index = int(out.split("of case ")[1].split(" ")[0])
    case = choose_case(2, case_index, CaseOptions(max_depth=2, max_width=3, max_batch=2))
    g = float(reference.gradients(case.arch, case.params, case.x, case.y)[0][1][1])
    assert f"g = reference.gradients = {g!r}" in out


def test_table_lists_every_other_step_with_the_gates_choices(capsys) -> None:
    assert main(["--seed", "0", *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("the gate: Richardson at s = ")
    assert lines[3].startswith("allowance A of a correct implementation")
    header = lines[5].split()
    assert header == ["step", "s", "central", "Richardson", "(estimate)", "complex", "step"]
    rows = [[float(v) for v in line.split()] for line in lines[6:]]
    assert len(rows) == len(STEP_EXPONENTS[::TABLE_STRIDE])
    steps = [row[0] for row in rows]
    assert steps == sorted(steps, reverse=True) and steps[0] / steps[1] == 2**TABLE_STRIDE


def test_plot_writes_a_png(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "stepsize.png"
    assert main(["--seed", "0", *SMALL, "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {path}"


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch, tmp_path, capsys) -> None:
    for module in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    assert main(["--plot", str(tmp_path / "x.png")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and len(printed.err.splitlines()) == 1
    assert "needs matplotlib" in printed.err and INSTALL_PLOT in printed.err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--entry", "1:W:0"], "should be LAYER:W:I,J or LAYER:b:J"),
        (["--entry", "1:x:0"], "should be LAYER:W:I,J or LAYER:b:J"),
        (["--entry", "one:W:0,0"], "should be LAYER:W:I,J or LAYER:b:J"),
        (["--entry", "9:W:0,0", "--case", "2"], "layer 9, but case 2 has layers 1..1"),
        (["--entry", "1:W:0,99", "--case", "2"], "layer 1: W has shape (2, 8), but the index"),
        (["--activations", "swish"], "unknown activation 'swish'"),
        (["--losses", "hinge"], "unknown loss 'hinge'"),
        (["--case", "-1"], "out of bounds"),
        (["--max-width", "0"], "should be in 1..64"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_option_gets_one_line_and_exit_2(args: list[str], words: str, capsys) -> None:
    assert main(args) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and len(printed.err.splitlines()) == 1, printed.err
    assert printed.err.startswith("backprop-gate stepsize: error: ") and words in printed.err


@pytest.mark.parametrize("name", ["missing-dir/plot.png", "plot.unknown-format"])
def test_unwritable_plot_gets_one_line_and_exit_2(name: str, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["--seed", "0", *SMALL, "--plot", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cannot write the plot" in err


def test_stepsize_is_a_subcommand_of_the_gate(capsys) -> None:
    assert gate_main(["stepsize", "--case", "2", *SMALL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dE/dW^1[") and "of case 2 (seed 0)" in out
