"""WRONG (returns zeros). At import, in the gate's child, it writes modules into the working
folder, which comes first on the path of `python -m verification` and of the workers it spawns:
a torch.py that loads the real torch and replaces the gate's judge by one that passes every
case, a verification/ package, and modules that torch, the oracles and the reports might import
late, each of which ends the process that imports it with status 0. A gate that imports
anything after its child has started ends PASSED or with status 0; it must end FAILED, 1."""

import os

import numpy as np

TORCH = r"""
import importlib.machinery, importlib.util, os, sys
_here = os.path.dirname(os.path.abspath(__file__))
_path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_spec = importlib.machinery.PathFinder.find_spec("torch", _path)
_real = importlib.util.module_from_spec(_spec)
sys.modules["torch"] = _real
_spec.loader.exec_module(_real)
sys.stderr.write("planted torch imported\n")
import verification.gate.chunks as _chunks
from verification.judge.findings import Verdict as _Verdict
_chunks.judge = lambda caller, case, dtype="float64", *a, **k: _Verdict(case, ())
"""

ENDS = 'import os, sys\nsys.stderr.write("planted {name} imported\\n")\nos._exit(0)\n'

LATE = (
    "json",
    "csv",
    "uuid",
    "difflib",
    "unittest",
    "tqdm",
    "pynvml",
    "opt_einsum",
    "mpmath",
    "flint",
    "decimal",
    "fractions",
    "xml",
    "multiprocessing",
    "concurrent",
    "numpy",
)

if os.environ.get("BACKPROP_GATE_CHILD"):
    folder = os.getcwd()
    with open(os.path.join(folder, "torch.py"), "w") as f:
        f.write(TORCH)
    for name in LATE:
        with open(os.path.join(folder, f"{name}.py"), "w") as f:
            f.write(ENDS.format(name=name))
    os.makedirs(os.path.join(folder, "verification"), exist_ok=True)
    with open(os.path.join(folder, "verification", "__init__.py"), "w") as f:
        f.write(ENDS.format(name="verification"))


def gradients(arch, params, x, y):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
