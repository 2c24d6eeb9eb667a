"""The gate in a user's folder: a module of the user's named like one of the gate's packages is
judged, never mistaken for the gate's; MODULE:FUNCTION resolves the same way from
`backprop-gate` and `python -m verification`; and torch is loaded only where it is used."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ZEROS = """
import numpy as np


def gradients(arch, params, x, y):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
"""

SCRIPT = shutil.which("backprop-gate", path=str(Path(sys.executable).parent))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A user's folder holding their own (wrong) reference.py and a module that imports it."""
    (tmp_path / "reference.py").write_text(ZEROS)
    (tmp_path / "mygrad.py").write_text("from reference import gradients  # noqa: F401\n")
    return tmp_path


@pytest.mark.parametrize("command", ["console script", "python -m"])
@pytest.mark.parametrize("impl", ["reference:gradients", "mygrad:gradients"])
def test_the_users_module_named_reference_is_the_one_judged(folder, command, impl) -> None:
    if command == "console script" and SCRIPT is None:
        pytest.skip("backprop-gate is not installed in this environment")
    start = [SCRIPT] if command == "console script" else [sys.executable, "-m", "verification"]
    done = run([*start, "--impl", impl, "--cases", "2"], folder)
    assert done.returncode == 1, done.stdout + done.stderr  # zeros: the user's file, judged
    assert "this project's own reference" not in done.stdout


def test_without_impl_the_gate_judges_its_own_reference_and_says_so(folder) -> None:
    done = run([sys.executable, "-m", "verification", "--cases", "2"], folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(this project's own reference)" in done.stdout.splitlines()[0]


def test_in_process_the_shadowing_module_stops_the_run_with_one_line(folder) -> None:
    done = run(
        [sys.executable, "-m", "verification", "--impl", "mygrad:gradients", "--in-process"],
        folder,
    )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"{folder / 'reference.py'} has the name of this project's own package" in line


TORCH_FREE = {
    "import reference": "import reference",
    "import verification.cases": "import verification.cases",
    "vectors check": textwrap.dedent(
        """
        import sys
        from verification.command_line.main import main
        from verification.vectors import export
        export(sys.argv[1], cases=3)
        assert main(["vectors", "check", sys.argv[1], sys.argv[1]]) == 0
        """
    ),
}


@pytest.mark.parametrize("what", list(TORCH_FREE))
def test_torch_is_not_loaded_where_it_is_not_used(tmp_path, what) -> None:
    code = TORCH_FREE[what] + "\nimport sys\nassert 'torch' not in sys.modules, 'torch loaded'\n"
    done = run([sys.executable, "-c", code, str(tmp_path / "vectors")], tmp_path)
    assert done.returncode == 0, done.stderr
