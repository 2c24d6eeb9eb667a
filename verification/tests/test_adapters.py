"""The adapters (verification.adapters): a user's pieces of gradient code, assembled into the
contract's signature, pass the gate when they are right and fail it, at the right layer, when a
bug is planted in their backward. The users' files are in adapter_users/, named to the gate by
path as a user would name theirs.

Most gate runs here are in-process (in_process=True: the judge is the same, without a child
process to start and to import torch or JAX again); one per framework runs isolated, as
`python -m verification --impl FILE.py:gradients` does. The JAX tests skip without JAX.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import reference
import verification
from verification.adapters.torch import gradients_of
from verification.command_line.main import main
from verification.gate.loading import spec_of
from verification.tests.adapter_users.torch_functions import Linear, Tanh

USERS = Path(__file__).parent / "adapter_users"
TORCH_FUNCTIONS = USERS / "torch_functions.py"
TORCH_MODULES = USERS / "torch_modules.py"
JAX_PIECES = USERS / "jax_pieces.py"

TANH_HIDDEN = {"activations": ["tanh"], "output_activations": ["identity"]}
"""Cases whose hidden layers are tanh and whose output layer is linear: a bug in tanh's
backward starts at layer L - 1, the highest tanh layer."""
FAST_FAILURE = {"max_failures": 3, "shrink_failures": 0}
"""Enough failures to see where they start; shrinking (seconds each) is the gate's own test."""
SMALL = {"max_depth": 2, "max_width": 3, "max_batch": 2}
"""JAX compiles every network and shape anew (0.1 to 0.5 s each): small cases repeat theirs."""


def _L(failure: verification.Failure) -> int:
    return len(failure.case["sizes"]) - 1


def _arch(sizes: tuple, activations: tuple, loss: str = "squared_error") -> reference.Architecture:
    return reference.Architecture(sizes=sizes, activations=activations, loss=loss)


def _case(arch: reference.Architecture, seed: int = 0) -> tuple[list, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = reference.init_params(arch, rng)
    x = rng.normal(size=(3, arch.sizes[0]))
    return params, x, rng.normal(size=(3, arch.sizes[-1]))


# --- torch: the user's pieces pass the gate ---------------------------------------------------


def test_torch_functions_pass_the_gate_from_the_command_line(capsys) -> None:
    # isolated, as a user runs it; the activations other than tanh are torch's own (fallback)
    status = main(["--impl", f"{TORCH_FUNCTIONS}:gradients", "--cases", "40"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASSED: 40 of 40 cases passed" in out and "not isolated" not in out


def test_torch_modules_in_nn_linear_layout_pass_the_gate() -> None:
    report = verification.check(f"{TORCH_MODULES}:gradients", cases=40, in_process=True)
    assert report.ok, report.summary()


def test_nn_linear_itself_passes_through_the_out_in_layout() -> None:
    adapter = gradients_of(layer=nn.Linear, activations={"tanh": nn.Tanh})
    assert adapter.weight_layout == "out_in"  # the default for a module layer
    report = verification.check(adapter, cases=20, activations=["tanh", "relu"])
    assert report.ok and not report.isolated, report.summary()  # a local object: in-process


def test_an_unsummed_bias_gradient_passes_because_torch_sums_it() -> None:
    # torch's engine sums a Function's gradient (n, n_l) to its input's shape (n_l,) itself
    report = verification.check(f"{TORCH_FUNCTIONS}:bias_not_summed", cases=20, in_process=True)
    assert report.ok, report.summary()


# --- torch: planted bugs in the user's backward fail the gate at the right layer --------------


def test_tanh_backward_without_the_square_fails_at_the_last_hidden_layer() -> None:
    report = verification.check(
        f"{TORCH_FUNCTIONS}:tanh_forgets_square",
        cases=40,
        in_process=True,
        **TANH_HIDDEN,
        **FAST_FAILURE,
    )
    assert not report.ok and report.failures
    for failure in report.failures:
        assert failure.kind == "mismatch", failure.message
        assert failure.layer == _L(failure) - 1, (failure.case["sizes"], failure.message)


def test_linear_backward_without_the_transpose_fails_at_the_output_layer() -> None:
    report = verification.check(
        f"{TORCH_FUNCTIONS}:linear_forgets_transpose", cases=20, in_process=True, **FAST_FAILURE
    )
    assert not report.ok
    first = report.failures[0]
    # delta^L W^L cannot be multiplied unless W^L is square: raised in the user's backward
    assert first.kind == "exception" and first.layer == _L(first), first.message
    assert "cannot be multiplied" in first.message and "torch_functions.py" in first.message


def test_bias_gradient_averaged_over_the_batch_fails_at_the_output_bias() -> None:
    report = verification.check(
        f"{TORCH_FUNCTIONS}:bias_averaged", cases=20, in_process=True, **FAST_FAILURE
    )
    assert not report.ok
    for failure in report.failures:
        assert (failure.layer, failure.param) == (_L(failure), "b"), failure.message
        assert "SUM" in (failure.hint or ""), failure.hint


def test_module_weight_gradient_transposed_fails_at_the_output_layer() -> None:
    report = verification.check(
        f"{TORCH_MODULES}:weight_gradient_transposed", cases=20, in_process=True, **FAST_FAILURE
    )
    assert not report.ok
    # a square W^L takes its transpose's shape and fails on its values; any other is refused
    refused = next(f for f in report.failures if f.kind == "exception")
    assert refused.layer == _L(refused), refused.message
    assert "WeightGradientTransposedBackward returned an invalid gradient" in refused.message


# --- torch: what the adapter refuses, and what it leaves alone --------------------------------


class _LinearWithoutBiasGradient(Linear):
    @staticmethod
    def backward(ctx, delta):
        h, W = ctx.saved_tensors
        return delta @ W.T, h.T @ delta, None


@pytest.mark.parametrize(
    "pieces, error, words",
    [
        ({"activations": {"Tanh": Tanh}}, ValueError, ["'Tanh' is not a name", "'tanh'"]),
        ({"activations": {"tanh": 3}}, TypeError, ["activations['tanh'] is a int"]),
        ({"activations": [Tanh]}, TypeError, ["activations is a list", "dict"]),
        ({"linear": Tanh, "layer": nn.Linear}, ValueError, ["not both"]),
        ({}, ValueError, ["none of your pieces"]),
        ({"layer": nn.Linear(2, 3)}, TypeError, ["instance of Linear", "class"]),
        ({"linear": nn.Linear}, TypeError, ["layer= instead"]),
        ({"linear": Tanh, "weight_layout": "row_major"}, ValueError, ["'in_out'", "'out_in'"]),
        ({"linear": Tanh, "fallback": "no"}, TypeError, ["fallback is a str"]),
    ],
)
def test_gradients_of_refuses_what_cannot_serve_naming_it(pieces, error, words) -> None:
    with pytest.raises(error) as raised:
        gradients_of(**pieces)
    for word in words:
        assert word in str(raised.value)


def test_an_activation_not_supplied_is_refused_without_fallback() -> None:
    adapter = gradients_of(activations={"tanh": Tanh}, fallback=False)
    arch = _arch((2, 3, 1), ("tanh", "relu"))
    with pytest.raises(ValueError) as raised:
        adapter(arch, *_case(arch))
    message = str(raised.value)
    assert "layer 2: activation 'relu' is not one of yours" in message
    assert "--activations tanh" in message and "fallback=True" in message


def test_a_weight_layout_that_does_not_fit_the_module_is_named_with_its_layer() -> None:
    adapter = gradients_of(layer=nn.Linear, weight_layout="in_out")
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    with pytest.raises(ValueError) as raised:
        adapter(arch, *_case(arch))
    assert "layer 1: Linear(2, 3).weight has shape (3, 2), but should be (2, 3)" in str(
        raised.value
    )
    assert "weight_layout='out_in'" in str(raised.value)


def test_a_linear_layer_giving_the_wrong_shape_is_named_with_its_layer() -> None:
    adapter = gradients_of(linear=lambda h, W, b: (h @ W + b).T)
    arch = _arch((2, 4, 1), ("tanh", "identity"))
    with pytest.raises(ValueError) as raised:
        adapter(arch, *_case(arch))  # a batch of 3
    assert "layer 1: the linear layer gave z^1 of shape (4, 3), but should be" in str(raised.value)


def test_a_backward_that_gives_no_gradient_is_named_with_its_layer() -> None:
    adapter = gradients_of(linear=_LinearWithoutBiasGradient)
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    with pytest.raises(ValueError) as raised:
        adapter(arch, *_case(arch))
    assert "layer 2: the linear layer: its backward gave no gradient for b^2" in str(raised.value)


def test_an_activation_computed_outside_autograd_is_named_with_its_layer() -> None:
    def numpy_tanh(z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.tanh(z.detach().numpy()))

    adapter = gradients_of(activations={"tanh": numpy_tanh})
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    with pytest.raises(ValueError) as raised:
        adapter(arch, *_case(arch))
    assert "layer 1: activation 'tanh': its output does not require grad" in str(raised.value)


def test_the_adapter_leaves_the_thread_count_and_the_arguments_as_they_were() -> None:
    adapter = gradients_of(activations={"tanh": Tanh})
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    params, x, y = _case(arch)
    before = [(W.copy(), b.copy()) for W, b in params], x.copy(), y.copy()
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        adapter(arch, params, x, y)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)
    for (W, b), (W0, b0) in zip(params, before[0], strict=True):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    assert np.array_equal(x, before[1]) and np.array_equal(y, before[2])


def test_a_module_level_adapter_is_named_by_its_module_for_a_child_process() -> None:
    from verification.tests.adapter_users import torch_functions

    name = "verification.tests.adapter_users.torch_functions"
    assert spec_of(torch_functions.gradients) == f"{name}:gradients"
    assert spec_of(torch_functions.bias_averaged) == f"{name}:bias_averaged"


def test_importing_the_adapters_loads_neither_torch_nor_jax() -> None:
    code = textwrap.dedent(
        """
        import sys
        import verification.adapters, verification.adapters.jax, verification.adapters.pieces
        loaded = [m for m in ("torch", "jax") if m in sys.modules]
        assert not loaded, loaded
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr


def test_a_missing_jax_is_explained_with_how_to_install_it(monkeypatch) -> None:
    import verification.adapters.jax as jax_adapter

    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    with pytest.raises(ImportError) as raised:
        jax_adapter.gradients_of(activations={"tanh": np.tanh})
    assert "backprop-oracle[jax]" in str(raised.value)


# --- JAX ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jax_users():
    """The JAX users' file, imported once (JAX itself takes a second or more to import)."""
    pytest.importorskip("jax")
    from verification.tests.adapter_users import jax_pieces

    return jax_pieces


def test_jax_custom_vjp_passes_the_gate_in_a_child_process(jax_users) -> None:
    # all activations and losses: those other than tanh are JAX's own (fallback)
    report = verification.check(f"{JAX_PIECES}:gradients", cases=6, **SMALL)
    assert report.ok and report.isolated, report.summary()


def test_jax_custom_vjp_with_a_doubled_bwd_fails_at_the_output_layer(jax_users) -> None:
    report = verification.check(
        f"{JAX_PIECES}:tanh_bwd_doubled",
        activations=["tanh"],
        cases=6,
        in_process=True,
        **SMALL,
        **FAST_FAILURE,
    )
    assert not report.ok and report.failures
    for failure in report.failures:  # every layer is tanh: the error starts at layer L
        assert failure.kind == "mismatch" and failure.layer == _L(failure), failure.message


JAX_FUNCTION_KIND = {
    "activations": ["tanh"],
    "output_activations": ["identity"],
    "losses": ["squared_error"],
}


def test_jax_gradient_function_passes_the_gate_on_its_kind_of_network(jax_users) -> None:
    report = verification.check(
        f"{JAX_PIECES}:function_gradients", cases=6, in_process=True, **JAX_FUNCTION_KIND, **SMALL
    )
    assert report.ok, report.summary()


def test_jax_gradient_function_without_the_mean_fails_with_a_factor_n(jax_users) -> None:
    report = verification.check(
        f"{JAX_PIECES}:function_forgets_mean",
        cases=6,
        in_process=True,
        **JAX_FUNCTION_KIND,
        **SMALL,
        **FAST_FAILURE,
    )
    assert not report.ok and report.failures
    for failure in report.failures:
        assert failure.layer == _L(failure), failure.message
        assert "a factor n" in (failure.hint or ""), failure.hint


def test_jax_gradient_function_refuses_a_case_of_another_kind(jax_users) -> None:
    arch = _arch((2, 3, 1), ("relu", "identity"))
    with pytest.raises(ValueError) as raised:
        jax_users.function_gradients(arch, *_case(arch))
    message = str(raised.value)
    assert "layer 1: the case has activation 'relu', but backprop computes 'tanh'" in message
    assert "--activations tanh --output-activations identity --losses squared_error" in message


def test_jax_gradient_function_returning_another_structure_is_named(jax_users) -> None:
    from verification.adapters.jax import from_function

    def as_dict(params, x, y):
        return {"grads": params}

    adapter = from_function(as_dict, hidden="tanh", output="identity", loss="squared_error")
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    with pytest.raises(TypeError) as raised:
        adapter(arch, *_case(arch))
    assert "as_dict returned dict, but should return a list of L = 2 pairs" in str(raised.value)


def test_jax_fallback_activations_follow_the_contract_at_their_kinks(jax_users) -> None:
    import jax

    from verification.adapters.jax import own_activations, own_losses

    own = own_activations()
    assert set(own) == set(reference.ACTIVATIONS) and set(own_losses()) == set(reference.LOSSES)
    slopes = {name: float(jax.grad(own[name])(0.0)) for name in ("relu", "leaky_relu", "elu")}
    assert slopes == {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0}  # PyTorch's conventions


def test_jax_adapter_turns_on_float64(jax_users) -> None:
    import jax

    assert jax.config.jax_enable_x64
    arch = _arch((2, 3, 1), ("tanh", "identity"))
    grads = jax_users.gradients(arch, *_case(arch))
    assert all(g.dtype == np.float64 for pair in grads for g in pair)
