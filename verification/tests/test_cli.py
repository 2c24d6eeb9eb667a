"""The command line (docs/contract.md, section 5): options, exit status 0/1/2, reports,
reproduction."""

import json
import subprocess
import sys
import textwrap
from xml.etree import ElementTree

import pytest

from verification.command_line.main import main

BUGGY = textwrap.dedent(
    """
    import reference

    def gradients(arch, params, x, y):
        # the sign flipped: the classic confusion of the gradient with the update
        return [(-gW, -gb) for gW, gb in reference.gradients(arch, params, x, y)]

    NOT_CALLABLE = 3
    """
)


@pytest.fixture
def buggy(tmp_path):
    path = tmp_path / "buggy.py"
    path.write_text(BUGGY)
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verification", *args], capture_output=True, text=True, timeout=120
    )


def test_without_impl_the_gate_passes_the_reference_and_exits_0(capsys):
    assert main(["--cases", "20", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "PASSED: 20 of 20 cases passed" in out
    assert "by activation" in out and "by loss" in out and "by depth" in out


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--no-such-option"], "unrecognized arguments"),
        (["--activations", "tanh,rellu"], "'rellu'"),
        (["--losses", "hinge"], "'hinge'"),
        (["--cases", "0"], "should be in 1..10,000,000"),
        (["--max-depth", "two"], "not a whole number"),
        (["--impl", "no_such_module_xyz:gradients"], "cannot import"),
        (["--impl", "reference:no_such_function"], "has no attribute"),
        (["--impl", "reference"], "MODULE:FUNCTION"),
        (["--impl", "missing/file.py:gradients"], "no file"),
        (["--losses", "cross_entropy", "--max-width", "1"], "cannot show a wrong gradient"),
    ],
)
def test_a_command_that_cannot_run_exits_2_with_one_line_on_stderr(capsys, args, reason):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("backprop-gate: error:") and reason in lines[0], lines[0]
    assert captured.out == ""


def test_an_impl_that_is_not_callable_exits_2(capsys, buggy):
    assert main(["--impl", f"{buggy}:NOT_CALLABLE", "--cases", "2"]) == 2
    assert "not a callable" in capsys.readouterr().err


def test_bad_usage_prints_no_traceback_from_a_real_process():
    result = run("--activations", "nope")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "valid: identity,sigmoid" in result.stderr


def test_a_failing_impl_exits_1_and_writes_json_and_junit(tmp_path, buggy, capsys):
    report_json, report_xml = tmp_path / "report.json", tmp_path / "report.xml"
    status = main(
        [
            "--impl",
            f"{buggy}:gradients",
            "--cases",
            "6",
            "--activations",
            "tanh",
            "--json",
            str(report_json),
            "--junit-xml",
            str(report_xml),
        ]
    )
    assert status == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "reproduce: python -m verification" in out
    data = json.loads(report_json.read_text())
    assert data["ok"] is False and data["cases"] == 6 and data["failures"]
    failure = data["failures"][0]
    for key in ("case", "layer", "param", "expected", "got", "reproduce", "oracle", "index"):
        assert failure[key] is not None, key
    assert {"seed", "index", "sizes", "activations", "loss", "n"} <= set(failure["case"])
    assert "sign" in failure["hint"]
    suite = ElementTree.parse(report_xml).getroot()
    assert suite.get("tests") == "6"
    assert int(suite.get("failures")) == len(data["failures"])
    assert len(suite.findall("testcase")) == 6


def test_a_passing_run_writes_ok_json(tmp_path):
    path = tmp_path / "ok.json"
    assert main(["--cases", "4", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["ok"] is True and data["cases"] == 4 and data["failures"] == []


def test_the_reproduction_command_reproduces_the_failure(buggy, capsys):
    from verification import check

    report = check(f"{buggy}:gradients", cases=5, seed=11, activations=["sigmoid"])
    failure = report.failures[-1]
    words = failure.reproduce.split()
    assert words[:3] == ["python", "-m", "verification"]
    assert main(words[3:]) == 1
    out = capsys.readouterr().out
    assert "1 cases from seed 11" in out
    assert failure.message in out


def test_the_reproduction_repeats_the_limits_and_in_process_of_the_run(buggy, capsys):
    from verification import check

    report = check(
        f"{buggy}:gradients", cases=2, timeout=7.5, memory_limit=3 << 29, in_process=True
    )
    failure = report.failures[0]
    words = failure.reproduce.split()
    assert words[-5:] == ["--timeout", "7.5", "--memory-limit", "1536M", "--in-process"], words
    assert "timeout=7.5, memory_limit=1610612736, in_process=True)" in failure.python
    assert main(words[3:]) == 1
    assert "not isolated" in capsys.readouterr().out


def test_workers_give_the_same_report_and_failure_stream_as_a_serial_run(
    buggy, tmp_path, monkeypatch
):
    """Even stopped by max_failures: the chunks (of 2 cases here, 6 of them on 2 workers)
    finish in any order, but are merged in index order, and the run ends at the same failure
    as a serial run's, with the same failures streamed to --jsonl, in the same order."""
    from verification import check
    from verification.gate import run

    monkeypatch.setattr(run, "CHUNK_CASES", 2)
    reports, streams = [], []
    for workers in (1, 2):
        jsonl = tmp_path / f"failures-{workers}.jsonl"
        report = check(
            f"{buggy}:gradients",
            cases=12,
            seed=5,
            workers=workers,
            max_failures=3,
            jsonl=jsonl,
            shrink_failures=0,
        ).to_dict()
        report.pop("seconds")
        reports.append(report)
        streams.append([json.loads(line)["case"]["index"] for line in jsonl.open()])
    assert reports[0] == reports[1]
    assert reports[0]["failed"] == 3 and reports[0]["stopped"], reports[0]
    assert streams[0] == streams[1] == reports[0]["failed_cases"], streams


def test_a_run_keeps_at_most_in_flight_chunks_on_its_executor(monkeypatch):
    """The chunks go out as earlier ones are merged, never all at once: while a slow first
    chunk holds up the merge, a run holds the results of at most IN_FLIGHT chunks (sent, or
    finished and waiting), so its memory stays flat; and its report is the serial run's."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from verification import check
    from verification.gate import run

    def slow(function, *args):
        time.sleep(0.5)
        return function(*args)

    class Counting(ThreadPoolExecutor):
        """Counts the chunks sent and not yet merged, at each send; the first one is slow."""

        def __init__(self) -> None:
            super().__init__(2)
            self.lock, self.sent, self.merged, self.most = threading.Lock(), 0, 0, 0

        def submit(self, function, *args, **kwargs):
            if function is not run.run_chunk:  # the import before the cases, say
                return super().submit(function, *args, **kwargs)
            with self.lock:
                first = self.sent == 0
                self.sent += 1
                self.most = max(self.most, self.sent - self.merged)
            if first:
                return super().submit(slow, function, *args)
            return super().submit(function, *args, **kwargs)

        def progress(self, done: int, total: int, failed: int) -> None:
            with self.lock:
                self.merged = done // run.CHUNK_CASES

    monkeypatch.setattr(run, "CHUNK_CASES", 2)
    monkeypatch.setattr(run, "IN_FLIGHT", 3)
    options = dict(cases=20, seed=3, in_process=True, shrink_failures=0)
    with Counting() as executor:
        pooled = check(executor=executor, progress=executor.progress, **options).to_dict()
    serial = check(**options).to_dict()
    assert executor.sent == 10 and executor.most == 3, (executor.sent, executor.most)
    pooled.pop("seconds"), serial.pop("seconds")
    assert pooled == serial


def test_the_readme_example_fails_with_the_factor_n_hint():
    from pathlib import Path

    from verification import check

    example = Path(__file__).parents[2] / "examples" / "student_backprop.py"
    report = check(
        f"{example}:gradients",
        cases=30,
        activations=["tanh"],
        losses=["squared_error"],
        shrink_failures=0,
    )
    assert not report.ok
    assert all("factor n" in (f.hint or "") for f in report.failures), report.summary()


def test_backprop_gate_is_installed_as_a_console_script_for_the_same_main():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "backprop-gate"]
    assert script.value == "verification.command_line.main:main"
    assert script.load() is main


def test_max_failures_stops_the_run_and_says_so(buggy, capsys):
    assert main(["--impl", f"{buggy}:gradients", "--cases", "40", "--max-failures", "2"]) == 1
    out = capsys.readouterr().out
    assert "stopped after 2 failing cases (--max-failures 2)" in out, out
    assert "FAILED: 0 of 2 cases passed" in out


def test_jsonl_holds_every_failure_as_a_line_of_strict_json(tmp_path, buggy):
    path, report = tmp_path / "failures.jsonl", tmp_path / "report.json"
    args = ["--impl", f"{buggy}:gradients", "--cases", "6", "--jsonl", str(path)]
    assert main([*args, "--json", str(report)]) == 1
    lines = path.read_text().splitlines()
    records = [json.loads(line, parse_constant=pytest.fail) for line in lines]
    failed = json.loads(report.read_text())["failed_cases"]
    assert sorted(r["case"]["index"] for r in records) == failed and len(failed) >= 4
    assert all(r["kind"] == "mismatch" and r["reproduce"] for r in records)


def test_off_a_terminal_progress_is_one_line_every_few_seconds(monkeypatch, capsys):
    from verification.command_line import main as command

    monkeypatch.setattr(command, "PROGRESS_SECONDS", 0.0)
    assert main(["--cases", "60"]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if "cases/s" in line]
    assert progress and progress[-1].startswith("backprop-gate: 60/60 cases"), progress


@pytest.mark.parametrize(
    "args", [["--cases", "3"], ["vectors", "schema"], ["--help"], ["stepsize", "--case", "2"]]
)
def test_every_command_survives_a_reader_that_goes_away(args):
    gate = subprocess.Popen(
        [sys.executable, "-m", "verification", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    gate.stdout.readline()
    gate.stdout.close()  # like `| head -1`
    _, err = gate.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err


def test_a_run_never_reuses_a_child_of_an_earlier_run(tmp_path):
    """With an executor of threads, each thread's child is closed at the end of the run, and
    a later run starts its own: it judges the file as it is now, not as it was imported."""
    from concurrent.futures import ThreadPoolExecutor

    from verification import check
    from verification.gate import chunks

    impl = tmp_path / "impl.py"
    impl.write_text("from reference import gradients  # noqa: F401\n")
    with ThreadPoolExecutor(2) as executor:
        assert check(f"{impl}:gradients", cases=4, executor=executor, shrink_failures=0).ok
        assert not chunks._CALLERS, "a child of the run is still open"
        impl.write_text(
            "import numpy as np\n\n\ndef gradients(arch, params, x, y):\n"
            "    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]\n"
        )
        assert not check(f"{impl}:gradients", cases=4, executor=executor, shrink_failures=0).ok
