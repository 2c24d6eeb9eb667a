"""What a process of the gate imports before it starts the implementation's child process.

The child can write the user's files (docs/isolation.md), the working folder included, and
under `python -m verification` that folder comes first on the gate's path; a script that calls
verification.check has its own folder there. A module that the gate imported after the child
had started could be one the child planted: a `torch.py` beside the implementation would
replace the oracles, and with them the verdict. So every process of the gate imports all it
will need before the first child starts, and imports nothing afterwards:
`verification/tests/test_preload.py` runs the gate with every report and lists the modules
its process looked for after its first child started; there must be none.

A module already imported is not read again, so a file planted or rewritten afterwards changes
nothing in this process. What a later process reads is another matter: the gate's own pool
starts and readies its workers before any child (run._pool), and a cluster's workers should be
started with `--preload verification.gate.preload` (docs/scale.md).
"""

import importlib

REPORTING = (
    "numpy.ma",  # numpy imports it late: np.median (the diagnoses), unpickling chunk results
    "json",
    "xml.etree.ElementTree",
    "verification.report.files",
    "verification.judge.compare",
    "verification.oracles.tolerance",
)
"""What the gate's process needs to merge and write reports (also when workers judge)."""

JUDGING = (
    "torch",
    "verification.oracles.consult",
    "verification.oracles.torch_mirror",
    "verification.oracles.exact",
    "verification.cases.shrink",
)
"""What a process that judges cases needs beyond REPORTING: torch and the oracles."""


def for_reporting() -> None:
    """Import what merging and writing reports needs."""
    for name in REPORTING:
        importlib.import_module(name)


def for_judging() -> None:
    """Import what judging cases, shrinking failures and writing reports need."""
    for_reporting()
    for name in JUDGING:
        importlib.import_module(name)


def dask_setup(worker: object = None) -> None:
    """`dask worker --preload verification.gate.preload` calls this as the worker starts."""
    for_judging()
