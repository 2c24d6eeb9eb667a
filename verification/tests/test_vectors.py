"""Golden test vectors: export, exact round trips, the schema, and `vectors check` on good,
wrong, missing, extra, malformed and hostile results; the JavaScript example end to end."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reference
from verification.cases import Case, CaseOptions, draw_case
from verification.command_line.main import main as gate_main
from verification.oracles.exact import exact_backprop
from verification.oracles.tolerance import allowance
from verification.vectors import (
    CASE_FILE,
    SCHEMA_VERSION,
    check_results,
    load_vector,
    load_vectors,
    schema,
    vector_of,
)
from verification.vectors.export import to_json
from verification.vectors.safe_json import MAX_NESTING, nesting_depth

SEED = 0
CASES = 40  # enough for every activation and loss (test_the_javascript_example_... checks it)
ROOT = Path(__file__).resolve().parents[2]
JAVASCRIPT = ROOT / "examples" / "javascript"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not on PATH")


def main(argv: list[str]) -> int:
    """`python -m verification vectors ARGV`."""
    return gate_main(["vectors", *argv])


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    assert main(["export", "--out", str(out), "--cases", str(CASES), "--seed", str(SEED)]) == 0
    return out


@pytest.fixture
def results(vectors, tmp_path) -> Path:
    """A copy of the vectors as results: a vector file is itself a valid, passing result."""
    return Path(shutil.copytree(vectors, tmp_path / "results"))


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def write(path: Path, document: object) -> None:
    path.write_text(json.dumps(document))


def bits(a: np.ndarray) -> bytes:
    """The exact bits of a float64 array: -0.0 differs from 0.0, unlike with ==."""
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def plain_case(vectors: Path) -> Path:
    """A plain case with a batch of several rows and L >= 2: where a factor n shows."""
    for vector in load_vectors(vectors):
        case = vector.case
        if case.regime == "plain" and case.n > 1 and case.L >= 2:
            return vector.path
    raise AssertionError("no plain case with n > 1 and L >= 2 among the vectors")


def run_check(vectors: Path, results: Path, capsys, *args: str) -> tuple[int, str]:
    status = main(["check", str(vectors), str(results), *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# --- export -----------------------------------------------------------------------------------


def test_export_writes_one_file_per_case_named_by_its_index(vectors):
    names = sorted(p.name for p in vectors.iterdir())
    assert names == [CASE_FILE.format(index=i) for i in range(CASES)]
    document = read(vectors / "case-0007.json")
    assert document["schema_version"] == SCHEMA_VERSION
    assert (document["case"]["seed"], document["case"]["index"]) == (SEED, 7)


def test_a_vector_reads_back_bit_for_bit_as_the_case_and_its_exact_values(vectors):
    for i in range(CASES):
        path = vectors / CASE_FILE.format(index=i)
        vector = load_vector(path)
        case = draw_case(SEED, i, CaseOptions())
        assert vector.case == case, f"case {i}: params, x or y changed on the way"  # bitwise
        exact = exact_backprop(case.arch, case.params, case.x, case.y)
        allowed = allowance(case.arch, case.params, case.x, case.y)
        document = read(path)
        assert bits(np.array(document["E"])) == bits(exact.E.value)
        assert document["unresolved"] == exact.unresolved()
        for l, layer in enumerate(document["layers"], start=1):
            assert layer["layer"] == l
            g_W, g_b = exact.grad_W[l].value, exact.grad_b[l].value
            for key, a in [
                ("z", exact.z[l].value),
                ("h", exact.h[l].value),
                ("delta", exact.delta[l].value),
                ("grad_W", g_W),
                ("grad_b", g_b),
                ("allowed_grad_W", allowed[l - 1][0] + np.spacing(np.abs(g_W))),
                ("allowed_grad_b", allowed[l - 1][1] + np.spacing(np.abs(g_b))),
            ]:
                assert bits(np.array(layer[key])) == bits(a), f"case {i}, layer {l}: {key}"


def test_the_vectors_gradients_are_within_a_few_ulp_of_the_reference_where_it_is_accurate(
    vectors,
):
    """The reference is within its first-order allowance of the exact gradient: the vector's
    value and the reference's differ by at most that allowance plus one ULP."""
    for i in range(CASES):
        vector = load_vector(vectors / CASE_FILE.format(index=i))
        case = vector.case
        ours = reference.gradients(case.arch, case.params, case.x, case.y)
        allowed = allowance(case.arch, case.params, case.x, case.y)
        for (g, r), (A_W, A_b) in zip(zip(vector.grads, ours, strict=True), allowed, strict=True):
            for exact, got, A in ((g[0], r[0], A_W), (g[1], r[1], A_b)):
                assert np.all(np.abs(got - exact) <= A + np.spacing(np.abs(exact))), f"case {i}"


def test_negative_zero_and_subnormals_round_trip_exactly():
    smallest = 5e-324  # 2^-1074, the smallest subnormal
    largest_subnormal = np.nextafter(2.2250738585072014e-308, 0.0)
    x = np.array([[-0.0, smallest, largest_subnormal, 1 / 3], [0.1, -smallest, 1e-310, 0.0]])
    W = np.array([[-0.0], [3 * smallest], [1.0 - 2**-53], [np.pi]])
    arch = reference.Architecture(sizes=(4, 1), activations=("tanh",), loss="squared_error")
    case = Case(arch, [(W, np.array([-0.0]))], x, np.array([[-0.0], [0.5]]), "plain", 0, 0)
    document = json.loads(to_json(vector_of(case, CaseOptions())))
    for got, sent in [
        (document["x"], x),
        (document["y"], case.y),
        (document["layers"][0]["W"], W),
        (document["layers"][0]["b"], case.params[0][1]),
    ]:
        assert bits(np.array(got)) == bits(sent)
    assert np.signbit(document["x"][0][0]) and document["x"][0][1] == smallest


def test_the_bit_comparison_sees_what_equality_cannot():
    # the planted bugs of a lossy writer: -0.0 written as 0, 15 digits instead of 17
    assert np.array_equal([-0.0], [0.0]) and bits(np.array([-0.0])) != bits(np.array([0.0]))
    third = np.array([1 / 3])
    assert bits(np.array([float(f"{1 / 3:.15g}")])) != bits(third)


def test_the_vector_holds_the_seeds_equations_layer_by_layer(vectors):
    """Checked from the file alone, so that a trace written under the wrong layer number (z^{l-1}
    where z^l belongs) is caught."""
    for i in (0, 5, 11):
        document = read(vectors / CASE_FILE.format(index=i))
        arch = document["architecture"]
        h_prev = np.array(document["x"])
        for l, layer in enumerate(document["layers"], start=1):
            W, b, z, h = (np.array(layer[k]) for k in ("W", "b", "z", "h"))
            delta = np.array(layer["delta"])
            phi = reference.ACTIVATIONS[arch["activations"][l - 1]].phi
            assert np.allclose(z, h_prev @ W + b, rtol=1e-12, atol=0), (i, l, "z")
            assert np.array_equal(h, phi(z)), (i, l, "h")
            assert np.allclose(layer["grad_W"], h_prev.T @ delta, rtol=1e-12, atol=1e-300)
            assert np.allclose(layer["grad_b"], delta.sum(axis=0), rtol=1e-12, atol=1e-300)
            h_prev = h


def test_exported_files_follow_the_shipped_schema_and_a_broken_one_does_not(vectors):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates the schema")
    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    for path in sorted(vectors.iterdir()):
        validator.validate(read(path))
    broken = read(vectors / "case-0000.json")
    del broken["layers"][0]["grad_b"]
    assert not validator.is_valid(broken)
    assert schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    # results: $defs.result, with the $defs of the same file
    results = jsonschema.Draft202012Validator(
        {"$defs": schema()["$defs"], "$ref": "#/$defs/result"}
    )
    vector = read(vectors / "case-0001.json")
    layers = [{"grad_W": layer["grad_W"], "grad_b": layer["grad_b"]} for layer in vector["layers"]]
    assert results.is_valid({"layers": layers}) and results.is_valid(vector)
    layers[0]["grad_W"] = "[[0.5]]"
    assert not results.is_valid({"layers": layers})


def test_the_schema_command_prints_the_shipped_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema()


def test_export_draws_only_the_chosen_names_and_case_i_alone_is_the_same_file(vectors, tmp_path):
    assert main(["export", "--out", str(tmp_path / "one"), "--case", "7"]) == 0
    (written,) = (tmp_path / "one").iterdir()
    assert written.read_bytes() == (vectors / "case-0007.json").read_bytes()
    out = tmp_path / "tanh"
    args = ["--activations", "tanh", "--losses", "cross_entropy", "--max-depth", "2"]
    assert main(["export", "--out", str(out), "--cases", "10", *args]) == 0
    for vector in load_vectors(out):
        assert set(vector.case.arch.activations) == {"tanh"}, vector.case.describe()
        assert vector.case.arch.loss == "cross_entropy" and vector.case.L <= 2


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["export"], "--out"),
        (["export", "--out", "{out}", "--activations", "tanh,rellu"], "'rellu'"),
        (["export", "--out", "{out}", "--cases", "0"], "should be in 1.."),
        (["export", "--out", "{out}", "--activations", "relu", "--losses", "squared_error",
          "--max-depth", "x"], "not a whole number"),
        (["import"], "invalid choice"),
        ([], "required"),
    ],
)  # fmt: skip
def test_a_command_that_cannot_run_exits_2_with_one_line_on_stderr(capsys, tmp_path, args, reason):
    assert main([a.replace("{out}", str(tmp_path / "out")) for a in args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], captured.err
    assert lines[0].startswith("backprop-gate vectors") and captured.out == ""


def test_export_refuses_a_directory_holding_other_json_files(tmp_path, capsys):
    (tmp_path / "notes.json").write_text("{}")
    assert main(["export", "--out", str(tmp_path), "--cases", "2"]) == 2
    assert "notes.json" in capsys.readouterr().err
    assert not (tmp_path / "case-0000.json").exists()


# --- check: verdicts ----------------------------------------------------------------------------


def test_the_vectors_themselves_pass_as_results(vectors, results, capsys):
    status, out = run_check(vectors, results, capsys)
    assert status == 0, out
    assert f"PASSED: {CASES} of {CASES} cases passed" in out
    assert "finite differences" not in out and "torch" not in out  # this check has one oracle


def test_a_difference_within_the_allowance_passes_and_one_beyond_it_fails(vectors, results):
    path = plain_case(vectors)
    document = read(path)
    top = document["layers"][-1]
    expected, allowed = top["grad_W"][0][0], top["allowed_grad_W"][0][0]
    inside, outside = expected + 0.5 * allowed, expected + 3 * allowed
    assert abs(inside - expected) <= allowed < abs(outside - expected)  # after rounding too
    for got, ok in [(inside, True), (outside, False)]:
        top["grad_W"][0][0] = got
        write(results / path.name, document)
        report = check_results(vectors, results)
        assert report.ok is ok, report.summary()
    (failure,) = report.report.failures
    assert (failure.kind, failure.layer, failure.param, failure.index) == (
        "mismatch",
        len(document["layers"]),
        "W",
        [0, 0],
    )
    assert failure.got == outside and failure.expected == expected


@pytest.mark.parametrize(
    ("plant", "kind", "phrase"),
    [
        ("sign", "mismatch", "sign is flipped"),
        ("sum", "mismatch", "a factor n ="),
        ("relative_1e-6", "mismatch", "beyond allowance"),
        ("transpose", "structure", "transpose"),
        ("one_layer_short", "structure", "off-by-one"),
    ],
)
def test_planted_bugs_fail_with_the_layer_where_they_start_and_a_hint(
    vectors, results, plant, kind, phrase
):
    path = plain_case(vectors)
    document = read(path)
    L, n = len(document["layers"]), document["n"]
    top = document["layers"][-1]
    grad_W = np.array(top["grad_W"])
    if plant == "sign":
        top["grad_W"] = (-grad_W).tolist()
    elif plant == "sum":  # the batch sum where E is the batch mean: every layer n times
        for layer in document["layers"]:
            layer["grad_W"] = (n * np.array(layer["grad_W"])).tolist()
    elif plant == "relative_1e-6":
        top["grad_W"] = (grad_W * (1 + 1e-6)).tolist()
    elif plant == "transpose":
        top["grad_W"] = grad_W.T.tolist() + ([[0.0]] if grad_W.shape[0] == grad_W.shape[1] else [])
    elif plant == "one_layer_short":
        document["layers"].pop()
    write(results / path.name, document)
    report = check_results(vectors, results)
    assert not report.ok
    (failure,) = report.report.failures
    assert failure.kind == kind, failure.render()
    assert phrase in failure.render(), failure.render()
    if kind == "mismatch" or plant == "transpose":
        assert failure.layer == L, failure.render()
    assert failure.reproduce.endswith(f"--case {document['case']['index']}")


def test_a_float32_result_passes_the_float32_policy_only(vectors, results):
    for vector in load_vectors(vectors):
        case = vector.case
        params32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in case.params]
        grads = reference.gradients(case.arch, params32, case.x.astype(np.float32), case.y)
        layers = [{"grad_W": dW.tolist(), "grad_b": db.tolist()} for dW, db in grads]
        write(results / vector.path.name, {"layers": layers})
    assert check_results(vectors, results, dtype="float32").ok
    float64 = check_results(vectors, results)
    assert len(float64.report.failures) > CASES // 2, float64.summary()


def test_missing_and_extra_results_fail_the_check(vectors, results, capsys):
    (results / "case-0003.json").unlink()
    shutil.copy(results / "case-0004.json", results / "case-9999.json")
    status, out = run_check(vectors, results, capsys)
    assert status == 1
    assert f"FAILED: {CASES - 1} of {CASES} cases passed; 1 result files match no vector: " in out
    assert "case-9999.json" in out and "no result file" in out and "case-0003.json" in out
    (results / "case-0003.json").write_bytes((vectors / "case-0003.json").read_bytes())
    extra_only = check_results(vectors, results)
    assert not extra_only.ok and extra_only.report.passed == CASES and extra_only.extra


def test_the_json_report_names_failures_and_extra_files(vectors, results, tmp_path, capsys):
    (results / "case-0002.json").unlink()
    (results / "stray.json").write_text("{}")
    report_path = tmp_path / "report.json"
    assert main(["check", str(vectors), str(results), "--json", str(report_path)]) == 1
    report = read(report_path)
    assert report["ok"] is False and report["cases"] == CASES and report["extra"] == ["stray.json"]
    (failure,) = report["failures"]
    assert failure["kind"] == "missing" and failure["case"]["index"] == 2


# --- check: malformed and hostile results -------------------------------------------------------

LAYER = '{"grad_W": [[1.0]], "grad_b": [1.0]}'


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b'{"layers": [', "is not valid JSON"),
        (b"\xff\xfe{}", "is not UTF-8"),
        (b"[1, 2]", "holds an array, but should hold an object"),
        (b'{"grads": []}', "has no 'layers'"),
        (b'{"layers": {"1": {}}}', "'layers' as an object"),
        (b'{"layers": [1, 2, 3, 4, 5, 6, 7]}', "is a number, but should be an object"),
        (b'{"layers": [{"grad_W": [[1.0]]}]}', "has no 'grad_b'"),
        (b'{"layers": [{"grad_W": [["1.0"]], "grad_b": [1]}]}', "holds a string"),
        (b'{"layers": [{"grad_W": [[true]], "grad_b": [1]}]}', "holds a boolean"),
        (
            b'{"layers": [{"grad_W": [[1, 2], [3]], "grad_b": [1]}]}',
            "ragged: at depth 1 it holds an array of length 1",
        ),
        (b'{"layers": [{"grad_W": 1, "grad_b": [1]}]}', "is a number, but should be an array"),
        (b'{"layers": [{"grad_W": [[1' + b"0" * 400 + b']], "grad_b": [1]}]}', "too large"),
        (b'{"layers": [{"grad_W": [[1' + b"0" * 5000 + b']], "grad_b": [1]}]}', "4300"),
        (b'{"schema_version": 3, "layers": []}', "schema_version 3"),
        (b'{"case": {"seed": 0, "index": 5}, "layers": []}', "another case"),
        (b'{"layers": [{"layer": 2, "grad_W": [[1.0]], "grad_b": [1]}]}', "says layer 2"),
    ],
)
def test_a_malformed_result_fails_its_case_with_a_clear_message(vectors, tmp_path, content, phrase):
    results = tmp_path / "results"
    results.mkdir()
    (results / "case-0000.json").write_bytes(content)
    report = check_results(vectors, results, case=0)
    (failure,) = report.report.failures
    assert failure.kind == "malformed", failure.render()
    assert phrase in failure.message, failure.message


def test_nan_and_null_entries_are_non_finite_and_null_is_explained(vectors, results):
    path = plain_case(vectors)
    for token, note in [("NaN", False), ("null", True)]:
        document = read(path)
        text = json.dumps(document).replace(
            json.dumps(document["layers"][0]["grad_b"][0]), token, 1
        )
        (results / path.name).write_text(text)
        (failure,) = check_results(vectors, results).report.failures
        assert failure.kind == "non-finite", failure.render()
        assert ("JSON.stringify" in failure.message) is note


def test_a_huge_result_is_refused_before_it_is_read(vectors, results):
    with (results / "case-0001.json").open("wb") as f:
        f.truncate(2**36)  # 64 GiB, sparse: reading it would take minutes and the memory
    (failure,) = check_results(vectors, results).report.failures
    assert failure.kind == "malformed" and "68,719,476,736 bytes" in failure.message
    assert "not read" in failure.message


def test_a_deeply_nested_result_is_refused_before_it_is_parsed(vectors, results):
    deep = 1_000_000
    (results / "case-0001.json").write_text('{"layers": ' + "[" * deep + "]" * deep + "}")
    (failure,) = check_results(vectors, results).report.failures
    assert f"{deep + 1:,} deep, more than the {MAX_NESTING} allowed" in failure.message


def test_a_result_that_is_no_regular_file_is_never_opened(vectors, results):
    (results / "case-0001.json").unlink()
    (results / "case-0001.json").mkdir()
    (results / "case-0002.json").unlink()
    (results / "case-0002.json").symlink_to("/dev/zero")  # reading it would never end
    failures = check_results(vectors, results).report.failures
    assert [(f.kind, "is not a regular file" in f.message) for f in failures] == [
        ("malformed", True),
        ("malformed", True),
    ]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [[1, 2], [3]], "b": {"c": []}}', 3),
        ('{"a": "[[[[{{"}', 1),
        ('{"a": "\\"[[[\\\\", "b": [["]"]]}', 3),
        ("[" * 50 + "]" * 50, 50),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text, depth):
    assert nesting_depth(text.encode()) == depth


def test_hostile_results_give_no_traceback_from_a_real_process(vectors, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    hostile = [b"[" * 100_000, b"\x00\x01\x02", b'{"layers": "__import__(\'os\')"}', b"NaN"]
    for i, content in enumerate(hostile):
        (results / CASE_FILE.format(index=i)).write_bytes(content)
    command = [sys.executable, "-m", "verification", "vectors", "check", str(vectors), str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert f"FAILED: 0 of {CASES} cases passed" in done.stdout


@pytest.mark.parametrize(
    ("setup", "phrase"),
    [
        ("no_vectors_dir", "is not a directory of vectors"),
        ("empty_vectors_dir", "holds no .json vector files"),
        ("bad_vector", "is not a vector file of schema version 2"),
        ("results_is_a_file", "is not a directory"),
        ("case_not_exported", "has no case-0999.json"),
    ],
)
def test_check_that_cannot_run_exits_2_with_one_line(vectors, tmp_path, capsys, setup, phrase):
    vectors_dir, results, extra = vectors, tmp_path / "results", []
    results.mkdir()
    if setup == "no_vectors_dir":
        vectors_dir = tmp_path / "nowhere"
    elif setup == "empty_vectors_dir":
        vectors_dir = tmp_path / "empty"
        vectors_dir.mkdir()
    elif setup == "bad_vector":
        vectors_dir = Path(shutil.copytree(vectors, tmp_path / "copy"))
        document = read(vectors_dir / "case-0005.json")
        del document["architecture"]
        write(vectors_dir / "case-0005.json", document)
    elif setup == "results_is_a_file":
        results = tmp_path / "file.json"
        results.write_text("{}")
    else:
        extra = ["--case", "999"]
    status, out = run_check(vectors_dir, results, capsys, *extra)
    assert status == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0], out


def test_vectors_is_a_subcommand_listed_in_the_gates_help(capsys):
    with pytest.raises(SystemExit):
        gate_main(["--help"])
    out = capsys.readouterr().out
    assert "vectors" in out and "stepsize" in out, out


# --- the JavaScript example ---------------------------------------------------------------------


def run_node(script: Path, vectors: Path, results: Path) -> None:
    done = subprocess.run(
        [NODE, str(script), str(vectors), str(results)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@needs_node
def test_the_javascript_example_passes_on_every_activation_and_loss(vectors, tmp_path):
    results = tmp_path / "results"
    run_node(JAVASCRIPT / "check_vectors.js", vectors, results)
    report = check_results(vectors, results)
    assert report.ok, report.summary()
    assert set(report.report.by_activation) == set(
        reference.ACTIVATIONS
    )  # each judged at least once
    assert set(report.report.by_loss) == set(reference.LOSSES)


@needs_node
def test_a_bug_planted_in_the_javascript_example_is_caught(vectors, tmp_path):
    planted = tmp_path / "planted"
    shutil.copytree(JAVASCRIPT, planted)
    source = (planted / "backprop.js").read_text()
    assert source.count(" / h.length") == 3  # the 1/n of the mean, in each loss gradient
    (planted / "backprop.js").write_text(source.replace(" / h.length", ""))
    results = tmp_path / "results"
    run_node(planted / "check_vectors.js", vectors, results)
    report = check_results(vectors, results)
    assert not report.ok
    assert any("a factor n =" in (f.hint or "") for f in report.report.failures), report.summary()


@pytest.mark.parametrize("kind", ["device", "fifo", "oversized", "nested"])
def test_a_vector_file_gets_the_checks_a_result_gets(tmp_path, kind, capsys):
    from verification.vectors.load import VECTOR_BYTES

    vectors = tmp_path / "vectors"
    vectors.mkdir()
    path = vectors / CASE_FILE.format(index=0)
    if kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "fifo":
        os.mkfifo(path)  # opening it would block
    elif kind == "oversized":
        with open(path, "wb") as f:
            f.truncate(VECTOR_BYTES + 1)
    else:
        path.write_text("[" * 10_000 + "]" * 10_000)
    results = tmp_path / "results"
    results.mkdir()
    assert main(["check", str(vectors), str(results)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    phrase = {
        "device": "not a regular file",
        "fifo": "not a regular file",
        "oversized": "allowed; not read",
        "nested": "allowed; not parsed",
    }[kind]
    assert phrase in line, line
