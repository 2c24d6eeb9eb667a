"""The fifth stage: the gate, which runs one implementation on many cases and gathers a report.

    run        verification.check: the run, its failures shrunk, the report
    chunks     a chunk of cases judged where it runs (this process, a pool worker, a cluster)
    isolation  the implementation in a child process, under limits (the default)
    child      that child process's side
    protocol   what crosses between them, read as untrusted plain data
    loading    MODULE:FUNCTION and PATH/FILE.py:FUNCTION specs

Importing this package loads nothing: the child process imports gate.child without the oracles.
"""


def __getattr__(name: str):  # lazy: `verification.gate.run` loads the oracles (torch)
    if name == "check":
        from verification.gate.run import check

        return check
    raise AttributeError(f"module 'verification.gate' has no attribute {name!r}")
