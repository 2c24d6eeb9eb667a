"""The gate imports nothing after its implementation's child has started (gate.preload): the
child can write the working folder, which comes first on the gate's path, so a module read
later could be one it planted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HOSTILE = Path(__file__).parent / "hostile"

LATE_IMPORTS = r"""
import runpy, sys
started, late = [], []


class Recorder:
    # first on sys.meta_path: asked for every module not yet imported, found or not
    def find_spec(self, name, path=None, target=None):
        if started:
            late.append(name)
        return None


def hook(event, args):
    if event == "subprocess.Popen":
        started.append(True)


sys.meta_path.insert(0, Recorder())
sys.addaudithook(hook)
import verification.gate.run as run

_import = run._import


def imported(*args):  # with workers the children start on them, from here on
    try:
        return _import(*args)
    finally:
        started.append(True)


run._import = imported
sys.argv = ["verification", *sys.argv[1:]]
status = 0
try:
    runpy.run_module("verification", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    status = exc.code
sys.stderr.write("\nLATE " + " ".join(sorted(set(late))) + "\n")
sys.exit(status)
"""

WRONG = f"{HOSTILE / 'claims_to_be_the_reference.py'}:gradients"  # twice the gradients


@pytest.mark.parametrize(
    ("impl", "options"),
    [
        (WRONG, []),  # the oracles, the exact witness, the diagnoses, shrinking
        (WRONG, ["--workers", "2", "--dtype", "float32"]),  # chunk results unpickled here
        (f"{HOSTILE / 'segfaults.py'}:gradients", []),  # a child that dies, started again
    ],
)
def test_the_gate_reads_no_module_after_its_child_has_started(impl, options, tmp_path) -> None:
    reports = ["--json", "r.json", "--junit-xml", "r.xml", "--jsonl", "r.jsonl"]
    done = subprocess.run(
        [sys.executable, "-c", LATE_IMPORTS, "--impl", impl, "--cases", "6", *options, *reports],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    late = done.stderr.rsplit("LATE", 1)[1].split()
    assert late == [], f"looked for after the child started: {late}"
    assert json.loads((tmp_path / "r.json").read_text())["failed"] > 0


@pytest.mark.parametrize("workers", [1, 2])
def test_modules_planted_by_the_implementation_change_no_verdict(workers, tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "verification",
            "--impl",
            f"{HOSTILE / 'plants_modules_in_its_folder.py'}:gradients",
            "--cases",
            "40",
            "--workers",
            str(workers),
            "--json",
            "r.json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (tmp_path / "torch.py").exists(), "the implementation planted nothing"
    assert "planted" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FAILED" in done.stdout
    assert json.loads((tmp_path / "r.json").read_text())["failed"] > 0
