"""How long do the project's commands take to start, and which load torch?

    python benchmarks/bench_startup.py             # 7 runs of each, medians
    python benchmarks/bench_startup.py --runs 3

Each command runs as a fresh process, the median of RUNS wall times, alternating between the
commands so that a busy machine slows them alike. For each it also reports whether torch was
loaded (a child run with the same command prints "torch" in sys.modules). `import reference`
and the golden vectors' `check` must not load torch (the library issue): a learner who wants
only the reference, and a CI job that checks a C++ or JavaScript port, need not pay for it.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

CODE = {
    "python -c pass (the interpreter alone)": "pass",
    "import reference": "import reference",
    "import verification.cases": "import verification.cases",
    "vectors check (50 cases)": (
        "import sys\n"
        "from verification.command_line.main import main\n"
        "main(['vectors', 'check', sys.argv[1], sys.argv[1]])"
    ),
    "python -m verification --help": (
        "import sys\nsys.argv = ['backprop-gate', '--help']\n"
        "from verification.command_line.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    ),
    "python -m verification --cases 1 (the gate itself)": (
        "import sys\nfrom verification.command_line.main import main\nmain(['--cases', '1'])"
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args(argv).runs
    with tempfile.TemporaryDirectory() as vectors:
        subprocess.run(
            [sys.executable, "-m", "verification", "vectors", "export", "--out", vectors,
             "--cases", "50"],
            check=True, capture_output=True,
        )  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in CODE}
        for _ in range(runs):
            for name, code in CODE.items():
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", code, vectors], check=True, capture_output=True
                )
                times[name].append(time.perf_counter() - start)
        loads = {}
        for name, code in CODE.items():
            probe = code + "\nimport sys\nprint('torch' in sys.modules, file=sys.stderr)"
            done = subprocess.run(
                [sys.executable, "-c", probe, vectors], capture_output=True, text=True
            )
            loads[name] = done.stderr.strip().splitlines()[-1] == "True"
    print(f"{'command':<56}{'median s':>10}{'torch':>8}")
    for name in CODE:
        loaded = "yes" if loads[name] else "no"
        print(f"{name:<56}{statistics.median(times[name]):>10.2f}{loaded:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
