"""Implementations written to end, hang, crash, fool or escape the gate (verification/tests/
hostile/), each with the verdict and exit status it must get.

Nothing an implementation does changes the gate's verdict, exit status or reports: what it
returns or raises on a case, or how its process ends, is a failed case (status 1); a correct
implementation that only misbehaves around its gradients passes; an implementation that cannot
be imported is status 2 with one line.
"""

import json
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from xml.etree import ElementTree

import pytest

from verification import check
from verification.command_line.main import main
from verification.judge.arbiter import EXACT
from verification.report.failure import printable

HOSTILE = Path(__file__).parent / "hostile"
QUICK = {"cases": 2, "shrink_failures": 0, "timeout": 5.0}


def spec(name: str) -> str:
    return f"{HOSTILE / name}.py:gradients"


def kinds(report) -> set[str]:
    return {f.kind for f in report.failures}


@pytest.mark.parametrize(
    ("name", "kind", "phrase"),
    [
        ("exits_on_first_call", "crash", "exit status 0"),
        ("segfaults", "crash", "SIGSEGV"),
        ("kills_its_process_group", "crash", "SIGKILL"),
        ("forges_an_answer", "crash", "protocol"),
        ("forges_a_leaf_without_data", "crash", "protocol"),
        ("forges_fewer_items", "crash", "protocol"),
        ("forges_an_impossible_shape", "crash", "protocol"),
        ("raises_system_exit", "exception", "SystemExit"),
        ("raises_generator_exit", "exception", "GeneratorExit"),
        ("returns_ragged_lists", "structure", "could not be converted"),
        ("returns_the_wrong_number_of_layers", "structure", "should return L ="),
        ("returns_an_object_whose_repr_raises", "structure", "whose repr raised"),
        ("writes_through_its_arguments", "mutation", "arch"),
    ],
)
def test_what_an_implementation_does_on_a_case_is_a_failed_case(name, kind, phrase) -> None:
    report = check(spec(name), **QUICK)
    assert not report.ok and report.failed == report.cases, report.summary()
    failure = report.failures[0]
    assert failure.kind == kind and phrase in failure.message, report.summary()


@pytest.mark.parametrize(
    "name",
    [
        "patches_the_judge",
        "reads_the_oracle_off_the_stack",
        "fills_allowances_with_inf",
        "rewrites_the_report_at_exit",
    ],
)
def test_an_implementation_cannot_talk_the_gate_into_passing_wrong_gradients(name) -> None:
    report = check(spec(name), **QUICK)
    assert not report.ok and "mismatch" in kinds(report), report.summary()
    assert report.failures[0].oracle == EXACT


def test_the_gate_decides_itself_whether_it_judges_its_own_reference() -> None:
    report = check(spec("claims_to_be_the_reference"), **QUICK)
    assert not report.ok and not report.own, report.summary()
    assert "own reference" not in report.summary()
    assert check(None, cases=1).own and check("reference:gradients", cases=1).own


@pytest.mark.parametrize("name", ["changes_global_state", "leaves_a_thread_running"])
def test_side_effects_of_a_correct_implementation_leave_the_verdict_alone(name) -> None:
    report = check(spec(name), **QUICK)
    assert report.ok, report.summary()


def test_torch_tensors_with_a_graph_are_converted_and_judged() -> None:
    assert check(spec("returns_cpu_tensors"), **QUICK).ok


def test_a_call_that_never_returns_is_a_timeout_and_the_run_goes_on() -> None:
    start = time.monotonic()
    report = check(spec("loops_forever"), cases=2, shrink_failures=0, timeout=0.5)
    assert report.cases == 2 and kinds(report) == {"timeout"}, report.summary()
    assert time.monotonic() - start < 30


def test_a_call_over_the_memory_limit_is_a_memory_failure() -> None:
    report = check(spec("hogs_memory"), cases=1, shrink_failures=0, memory_limit=256 << 20)
    assert kinds(report) == {"memory"}, report.summary()


# --- through the command line, as CI runs it ---------------------------------------------------


def gate(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verification", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def test_an_exit_0_in_the_call_fails_the_run_and_the_reports_say_so(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--impl", spec("exits_on_first_call"), "--cases", "2", "--json", "r.json"]
    assert main([*args, "--junit-xml", "r.xml"]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] is False and report["failures"][0]["kind"] == "crash"
    assert 'failures="2"' in (tmp_path / "r.xml").read_text()


def test_an_atexit_hook_cannot_rewrite_the_report_afterwards(tmp_path) -> None:
    done = gate("--impl", spec("rewrites_the_report_at_exit"), "--cases", "2", "--json",
                "r.json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    time.sleep(1.0)  # time for any process left behind to do its worst
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is False


def test_reports_go_where_asked_although_the_implementation_changes_folder(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--impl", spec("changes_global_state"), "--cases", "2", "--json", "r.json"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True
    assert "PASSED: everything" not in capsys.readouterr().out  # the child's prints are its own


@pytest.mark.parametrize(
    "name", ["forges_a_leaf_without_data", "forges_fewer_items", "forges_an_impossible_shape"]
)
def test_a_forged_answer_is_a_failed_case_and_the_report_is_written(
    tmp_path, monkeypatch, capsys, name
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--impl", spec(name), "--cases", "2", "--json", "r.json"]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] is False and report["failed"] == 2
    assert {f["kind"] for f in report["failures"]} == {"crash"}
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture(scope="module")
def forged_lines(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One run of forges_lines_in_its_texts with every report file, and the folder they are in
    (all three of its ways appear in the first 6 cases of seed 0)."""
    folder = tmp_path_factory.mktemp("forged_lines")
    files = ["--json", "r.json", "--jsonl", "r.jsonl", "--junit-xml", "r.xml"]
    done = gate("--impl", spec("forges_lines_in_its_texts"), "--cases", "6", *files, cwd=folder)
    return done, folder


def test_texts_of_the_implementation_cannot_forge_a_line_or_send_escape_codes(
    forged_lines,
) -> None:
    done, _ = forged_lines
    assert done.returncode == 1, done.stderr
    lines = done.stdout.split("\n")
    assert lines[1].startswith("FAILED: 0 of 6 cases passed"), done.stdout + done.stderr
    assert "smallest failing case" in done.stdout and "crash" in done.stdout
    assert not any(line.lstrip().startswith("PASSED") for line in lines), done.stdout
    odd = {c for c in done.stdout if c != "\n" and unicodedata.category(c) in ("Cc", "Cs")}
    assert not odd and "\u2028" not in done.stdout, sorted(odd)


def test_texts_of_the_implementation_leave_the_report_files_valid(forged_lines) -> None:
    done, folder = forged_lines
    assert done.returncode == 1, done.stderr
    report = json.loads((folder / "r.json").read_text())
    assert report["failed"] == 6
    streamed = [json.loads(line) for line in (folder / "r.jsonl").read_text().splitlines()]
    assert len(streamed) == 6
    suite = ElementTree.parse(folder / "r.xml").getroot()
    assert suite.get("failures") == "6"
    for failure in suite.iter("failure"):
        assert failure.get("message") == printable(failure.get("message")), failure.get("message")
        assert not any(line.lstrip().startswith("PASSED") for line in failure.text.split("\n"))


def test_an_implementation_that_cannot_be_imported_again_fails_its_cases(
    tmp_path, monkeypatch
) -> None:
    from verification.gate import run

    monkeypatch.chdir(tmp_path)  # where its first import leaves its mark
    monkeypatch.setattr(run, "CHUNK_CASES", 2)  # a chunk for each worker
    report = check(spec("breaks_its_second_import"), cases=8, workers=2, shrink_failures=0)
    assert report.cases == 8 and not report.ok, report.summary()
    crashes = [f for f in report.failures if f.kind == "crash"]
    assert crashes, report.summary()  # the second worker's child could not start
    assert "could not start the implementation's process again" in crashes[0].message


def test_a_crash_with_two_workers_is_a_failed_case_not_a_broken_pool(capsys) -> None:
    assert main(["--impl", spec("segfaults"), "--cases", "2", "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "SIGSEGV" in captured.out


@pytest.mark.parametrize(
    ("name", "phrase"),
    [("exits_at_import", "exited (status 0)"), ("hangs_at_import", "did not finish within 5 s")],
)
def test_an_implementation_that_cannot_be_imported_is_status_2(tmp_path, name, phrase) -> None:
    done = gate("--impl", spec(name), "--timeout", "1", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert phrase in line and "Traceback" not in line, done.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--cases", str(10**30)], "out of bounds"),
        (["--max-width", "100000"], "out of bounds"),
        (["--max-depth", "1000000"], "out of bounds"),
        (["--memory-limit", "1T"], "out of bounds"),
        (["--timeout", "nan"], "out of bounds"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with"),
    ],
)
def test_every_number_has_bounds_and_a_value_outside_is_one_line(capsys, args, phrase) -> None:
    assert main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert phrase in line, line


def test_a_file_name_that_forges_a_line_is_printed_escaped(tmp_path, capsys) -> None:
    forged = tmp_path / "x\nPASSED: 200 of 200 cases passed\x1b[0m.py"
    forged.write_text("def gradients(arch, params, x, y):\n    return None\n")
    assert main(["--impl", f"{forged}:gradients", "--cases", "1"]) == 1
    out = capsys.readouterr().out
    assert not any(line.startswith("PASSED") for line in out.splitlines()), out
    assert "\x1b" not in out
