"""`python -m reference explain`: one step of backprop laid out with every number.

The printed numbers are read back and compared with independent values (the classic worked
example's published numbers) and with the reference's own (at 17 digits, bit for bit).
"""

import subprocess
import sys

import numpy as np
import pytest

import reference
from reference.programs.explain import LOSS_FORMULAS
from reference.programs.main import main


def explain(*args: str, capsys: pytest.CaptureFixture) -> str:
    assert main(["explain", *args]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    return printed.out


def blocks(text: str) -> dict[str, np.ndarray]:
    """Every labelled matrix of the output: label -> 2-d array (a vector is one row)."""
    lines = text.splitlines()
    found: dict[str, np.ndarray] = {}
    for i, line in enumerate(lines):
        if " shape (" not in line:
            continue
        label = line.rsplit(" shape (", 1)[0].strip()
        rows = []
        for row in lines[i + 1 :]:
            if not row.startswith("    [ "):
                break
            rows.append([float(v) for v in row.strip()[1:-1].split()])
        assert label not in found, f"label {label!r} printed twice"
        found[label] = np.array(rows)
    return found


def scalar(text: str, prefix: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.split("=")[-1])


def assert_printed(printed: dict[str, np.ndarray], label: str, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(printed[label], np.atleast_2d(expected), err_msg=label)


# --- the classic worked example --------------------------------------------------------------
# Matt Mazur, "A Step by Step Backpropagation Example" (2015): a 2-2-2 sigmoid network with
# E = sum 1/2 (target - output)^2 on one example and learning rate 0.5. His numbers, as
# published (to the digits he gives), in his names: w_k^+ is w_k after the step.
MAZUR = {
    "out_h1": 0.593269992,
    "out_h2": 0.596884378,
    "out_o1": 0.75136507,
    "out_o2": 0.772928465,
    "E_total": 0.298371109,
    "w1+": 0.149780716,
    "w2+": 0.19956143,
    "w3+": 0.24975114,
    "w4+": 0.29950229,
    "w5+": 0.35891648,
    "w6+": 0.408666186,
    "w7+": 0.511301270,
    "w8+": 0.561370121,
}
MAZUR_DIGITS = 5e-9  # he rounds to 8 or 9 decimals


def test_default_is_the_classic_example_with_its_published_numbers(capsys) -> None:
    text = explain(capsys=capsys)
    printed = blocks(text)
    np.testing.assert_allclose(
        printed["h^1 = sigmoid(z^1)"], [[MAZUR["out_h1"], MAZUR["out_h2"]]], atol=MAZUR_DIGITS
    )
    np.testing.assert_allclose(
        printed["h^2 = sigmoid(z^2)"], [[MAZUR["out_o1"], MAZUR["out_o2"]]], atol=MAZUR_DIGITS
    )
    assert scalar(text, "  = ") == pytest.approx(MAZUR["E_total"], abs=MAZUR_DIGITS)
    # W^1 = [[w1, w3], [w2, w4]] and W^2 = [[w5, w7], [w6, w8]] in the seed's layout
    np.testing.assert_allclose(
        printed["W^1 - alpha dE/dW^1"],
        [[MAZUR["w1+"], MAZUR["w3+"]], [MAZUR["w2+"], MAZUR["w4+"]]],
        atol=MAZUR_DIGITS,
    )
    np.testing.assert_allclose(
        printed["W^2 - alpha dE/dW^2"],
        [[MAZUR["w5+"], MAZUR["w7+"]], [MAZUR["w6+"], MAZUR["w8+"]]],
        atol=MAZUR_DIGITS,
    )
    assert "alpha = 0.5" in text and "Mazur" in text


def test_one_step_lowers_E_on_the_classic_example(capsys) -> None:
    text = explain(capsys=capsys)
    assert scalar(text, "E after the step") < scalar(text, "E before the step")


# --- every number is the reference's own ------------------------------------------------------

DRAWN = ["--sizes", "3,2,2,3", "--activations", "tanh,softplus,identity", "--loss"]


@pytest.mark.parametrize("loss", sorted(LOSS_FORMULAS))
def test_printed_numbers_are_the_references_own_to_the_last_bit(loss: str, capsys) -> None:
    text = explain(*DRAWN, loss, "--seed", "3", "--batch", "2", "--digits", "17", capsys=capsys)
    printed = blocks(text)
    # rebuild the network from the printed inputs (17 digits round-trip), then recompute
    arch = reference.Architecture(
        sizes=(3, 2, 2, 3), activations=("tanh", "softplus", "identity"), loss=loss
    )
    params = [(printed[f"W^{l}"], printed[f"b^{l}"][0]) for l in (1, 2, 3)]
    x, y = printed["x = h^0"], printed["y"]
    y = y[0].astype(np.int64) if loss == "cross_entropy" else y
    bp = reference.backprop(arch, params, x, y)
    new = reference.gradient_descent_step(params, bp.grads, alpha=0.5)
    for l in (1, 2, 3):
        assert_printed(printed, f"z^{l} = h^{l - 1} W^{l} + b^{l}", bp.z[l])
        assert_printed(printed, f"h^{l} = {arch.activations[l - 1]}(z^{l})", bp.h[l])
        assert_printed(printed, f"dE/dW^{l} = (h^{l - 1})^T delta^{l}", bp.grad_W[l])
        assert_printed(printed, f"dE/db^{l} = 1^T delta^{l} (column sums)", bp.grad_b[l])
        assert_printed(printed, f"W^{l} - alpha dE/dW^{l}", new[l - 1][0])
        assert_printed(printed, f"b^{l} - alpha dE/db^{l}", new[l - 1][1])
    assert_printed(printed, "delta^3 = identity'(z^3) * dE/dh^3", bp.delta[3])
    assert_printed(printed, "delta^2 = softplus'(z^2) * delta^3 (W^3)^T", bp.delta[2])
    assert_printed(printed, "delta^1 = tanh'(z^1) * delta^2 (W^2)^T", bp.delta[1])
    assert scalar(text, "E before the step") == bp.E
    assert scalar(text, "E after the step") == reference.error(arch, new, x, y)


def test_read_back_catches_a_number_off_in_its_last_digit(capsys) -> None:
    # the comparison above can fail: one digit changed in a printed gradient is caught
    text = explain("--digits", "17", capsys=capsys)
    label = "dE/dW^2 = (h^1)^T delta^2"
    lines = text.splitlines()
    row = lines[next(i for i, line in enumerate(lines) if line.startswith(label)) + 1]
    digits, last = row.removesuffix(" ]")[:-1], row.removesuffix(" ]")[-1]
    assert last.isdigit(), row
    tampered = text.replace(row, f"{digits}{(int(last) + 1) % 10} ]")
    assert_printed(blocks(text), label, blocks(text)[label])
    with pytest.raises(AssertionError):
        assert_printed(blocks(tampered), label, blocks(text)[label])


def test_each_delta_names_the_equation_it_comes_from(capsys) -> None:
    text = explain("--sizes", "1,2,2,1", "--activations", "relu", capsys=capsys)
    assert "-- layer 3: delta^3 = phi_3'(z^3) * dE/dh^3   (output_delta)" in text
    for l in (2, 1):
        assert f"-- layer {l}: delta^{l} = phi_{l}'(z^{l}) * delta^{l + 1} (W^{l + 1})^T" in text
    assert text.count("(hidden_delta)") == 2
    # one activation name serves every layer
    assert "activations relu, relu, relu" in text


def test_every_matrix_is_labelled_with_its_shape(capsys) -> None:
    printed = blocks(explain("--sizes", "4,3,2", "--batch", "5", capsys=capsys))
    assert printed["x = h^0"].shape == (5, 4)
    assert printed["W^1"].shape == (4, 3) and printed["b^2"].shape == (1, 2)
    assert printed["dE/dW^2 = (h^1)^T delta^2"].shape == (3, 2)
    assert printed["delta^1 = sigmoid'(z^1) * delta^2 (W^2)^T"].shape == (5, 3)


def test_drawn_numbers_have_two_decimals_for_pencil_and_paper(capsys) -> None:
    text = explain("--seed", "7", capsys=capsys)
    assert "drawn from seed 7" in text
    given = blocks(text)
    for label in ("x = h^0", "y", "W^1", "b^1", "W^2", "b^2"):
        np.testing.assert_array_equal(given[label], np.round(given[label], 2), err_msg=label)


def test_huge_alpha_says_the_step_overflowed(capsys) -> None:
    text = explain("--sizes", "2,3", "--activations", "identity", "--alpha", "1e308", capsys=capsys)
    assert "E after the step  = not finite" in text


def test_every_loss_has_its_formulas() -> None:
    assert set(LOSS_FORMULAS) == set(reference.LOSSES)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sizes", "2,x"], "widths n_0,...,n_L separated by commas"),
        (["--sizes", "2"], "at least n_1"),
        (["--sizes", "2,9"], "n_1 = 9, but every width should be from 1 to 8"),
        (["--sizes", "1,1,1,1,1,1"], "at most 4"),
        (["--activations", "swish"], "unknown activation 'swish'"),
        (["--activations", "tanh,tanh,tanh"], "should have one, or one per layer: L = 2"),
        (["--loss", "hinge"], "invalid choice: 'hinge'"),
        (["--alpha", "-1"], "should be a finite number > 0"),
        (["--digits", "18"], "at most 17"),
        (["--batch", "9"], "--batch: 9 should be at most 8"),
        (["--batch", "0"], "should be at least 1"),
        (["--seed", "-2"], "should be at least 0"),
    ],
)
def test_bad_option_gets_one_line_and_exit_2(args: list[str], words: str, capsys) -> None:
    assert main(["explain", *args]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert len(printed.err.splitlines()) == 1, printed.err
    assert printed.err.startswith("python -m reference: error: ") and words in printed.err


def test_explain_from_the_shell_without_traceback() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "reference", "explain"], capture_output=True, text=True, timeout=60
    )
    assert good.returncode == 0 and "== Backward pass" in good.stdout, good.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "reference", "explain", "--sizes", "0,1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "Traceback" not in bad.stderr
