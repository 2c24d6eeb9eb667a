"""The `backprop_gate` fixture: a user's pytest suite gets the gate's report as a test failure.

Each test runs an inner pytest session (pytester) on a small suite holding a correct
implementation and a planted bug. Plugin autoloading is off in the in-process inner sessions,
so that the plugin comes in by `-p verification.pytest_plugin` whether or not the `pytest11`
entry point is installed yet; the last test loads it through the entry point instead, in a
session split over two pytest-xdist workers.
"""

import importlib.metadata
import os

# flint and torch are loaded here, in the outer session, so that the in-process inner sessions
# share them: their compiled extensions cannot be loaded twice in one process
import flint  # noqa: F401
import pytest
import torch  # noqa: F401

pytest_plugins = ["pytester"]

PLUGIN = "verification.pytest_plugin"
ENTRY_POINT = "backprop_gate"

USER_SUITE = """
import reference

OPTIONS = dict(
    cases=4, activations=["tanh"], losses=["squared_error"], max_depth=2, max_width=3,
    max_batch=3,
)


def halved_output_weights(arch, params, x, y):
    # planted bug: dE/dW^L is half what it should be
    grads = reference.gradients(arch, params, x, y)
    grad_W, grad_b = grads[-1]
    return [*grads[:-1], (grad_W / 2, grad_b)]


def test_reference_passes(backprop_gate):
    report = backprop_gate.check(reference.gradients, **OPTIONS)
    assert report.ok and report.cases == 4


def test_halved_output_weights_fail(backprop_gate):
    backprop_gate.check(halved_output_weights, **OPTIONS)
"""

# what the failing test's message must show: the layer and W, expected against got, the
# diagnosis, the reproduction as a call of the fixture with the test's own options (and the
# command); the worst index is in the line "layer l: dE/dW[i, j] = ..."
REPORT_LINES = [
    "*FAILED case * (seed 0): L=* sizes=* tanh* squared_error n=*",
    "*mismatch at layer *, W, against *",
    "*layer *: dE/dW[[]*, *[]] = *, but the exact value is *",
    "*diagnosis: *1/2*",  # dE/dW^L halved: a factor 1/2, or 1/n for a batch of 2
    "*smallest failing case: L=1 sizes=* tanh squared_error n=*",
    "*layer 1: W^1 = [[]*[]]  b^1 = [[]*[]]  z^1 = [[]*[]]",
    "*dE/dW^1[[]*[]] = *, expected * (|diff| *, allowed *)",
    "*reproduce: backprop_gate.check(halved_output_weights, seed=0, case=*, "
    "activations=[[]'tanh'[]], losses=[[]'squared_error'[]], max_depth=2, max_width=3, "
    "max_batch=3)",
    "*or from a shell: python -m verification --impl test_user_suite:halved_output_weights "
    "--seed 0 --case * --activations tanh --losses squared_error --max-depth 2 --max-width 3 "
    "--max-batch 3",
]


@pytest.fixture
def user_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user_suite=USER_SUITE)
    return pytester


def _check_outcome(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(REPORT_LINES, consecutive=False)
    output = result.stdout.str()
    # the report is the message: no traceback into the plugin or the gate
    assert "pytest_plugin.py" not in output and "gate.py" not in output, output
    assert "--json" not in output, output  # the fixture has no such option


def test_failing_implementation_fails_with_the_gates_report(user_suite: pytest.Pytester) -> None:
    _check_outcome(user_suite.runpytest("-p", PLUGIN))


def test_passing_check_returns_the_report(user_suite: pytest.Pytester) -> None:
    result = user_suite.runpytest("-p", PLUGIN, "-k", "reference_passes")
    result.assert_outcomes(passed=1)


def test_without_the_plugin_the_fixture_is_missing(user_suite: pytest.Pytester) -> None:
    # the control for the tests above: the fixture comes from the plugin and nowhere else
    result = user_suite.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*fixture 'backprop_gate' not found*"], consecutive=False)


def test_bad_gate_option_is_an_error_in_the_users_test(user_suite: pytest.Pytester) -> None:
    user_suite.makepyfile(
        test_bad_option="""
        import reference

        def test_unknown_activation(backprop_gate):
            backprop_gate.check(reference.gradients, cases=1, activations=["swish"])
        """
    )
    result = user_suite.runpytest("-p", PLUGIN, "test_bad_option.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ValueError*swish*"], consecutive=False)


def _installed_entry_point() -> bool:
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


def test_entry_point_loads_the_plugin_in_each_xdist_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # autoloading on, as in a user's session: the pytest11 entry point brings the plugin into
    # the controller and into both workers (xdist's own entry point brings -n)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_user_suite=USER_SUITE)
    if not _installed_entry_point():
        # the package is not reinstalled with its entry point yet: declare the same entry
        # point in a distribution of our own on the inner session's path
        site = pytester.mkdir("site")
        info = site / "backprop_gate_entry_point-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: backprop-gate-entry-point\n")
        (info / "entry_points.txt").write_text(f"[pytest11]\n{ENTRY_POINT} = {PLUGIN}\n")
        monkeypatch.setenv("PYTHONPATH", str(site), prepend=os.pathsep)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    _check_outcome(result)
    result.stdout.fnmatch_lines(["*created: 2/2 workers*"], consecutive=False)
