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

def hook(event, args):
    if event == "subprocess.Popen":
        started.append(True)
    elif event == "import" and started:
        late.append(args[0])  # a module looked for on the path, found or not

sys.addaudithook(hook)
sys.argv = ["verification", *sys.argv[1:]]
status = 0
try:
    runpy.run_module("verification", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    status = exc.code
sys.stderr.write("\nLATE " + " ".join(sorted(set(late))) + "\n")
sys.exit(status)
"""


@pytest.mark.parametrize(
    "impl",
    [
        "verification.zoo.bugs:DphiAtH",  # wrong values: the oracles, the exact witness, shrinking
        f"{HOSTILE / 'segfaults.py'}:gradients",  # a child that dies, started again
        f"{HOSTILE / 'raises_system_exit.py'}:gradients",
    ],
)
def test_the_gate_reads_no_module_after_its_child_has_started(impl, tmp_path) -> None:
    reports = ["--json", "r.json", "--junit-xml", "r.xml", "--jsonl", "r.jsonl"]
    done = subprocess.run(
        [sys.executable, "-c", LATE_IMPORTS, "--impl", impl, "--cases", "6", *reports],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    late = done.stderr.rsplit("LATE", 1)[1].split()
    assert late == [], f"imported after the child started: {late}"
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
