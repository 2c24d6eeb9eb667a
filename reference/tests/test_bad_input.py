"""Bad input gets a ValueError or TypeError that names the layer and the shapes, and nothing
is modified (docs/contract.md, section 4, "The reference's input checks").

Every bad input below is built from one valid network (sizes 3-4-5-2, batch 6) by a single
change, with every array made read-only, and goes to each entry point that takes it. Each test
asserts the exception type, the fragments the message must hold (the layer 1..L, the quantity,
the shapes or values involved) and that every argument equals a copy taken before the call.

validation.check_inputs has a fast path that accepts plainly valid input without the detailed
checks; it must send every bad input on to them, which the last tests check directly.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import reference
from reference.tests.messages import assert_message
from reference.tests.networks import targets
from reference.validation import _accept_quickly, check_inputs

SIZES = (3, 4, 5, 2)
N = 6
ACTIVATIONS = ("tanh", "relu", "identity")


def valid_input(loss: str) -> tuple[reference.Params, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    arch = reference.Architecture(sizes=SIZES, activations=ACTIVATIONS, loss=loss)
    params = [(W, rng.standard_normal(b.shape)) for W, b in reference.init_params(arch, rng)]
    return params, rng.standard_normal((N, SIZES[0])), targets(rng, loss, N, SIZES[-1])


def read_only(a: object) -> object:
    """A read-only copy of an array, or the object itself: any write then raises."""
    if isinstance(a, np.ndarray):
        a = a.copy()
        a.flags.writeable = False
    return a


@dataclass(frozen=True)
class BadInput:
    loss: str
    change: Callable  # (params, x, y) -> (params, x, y), working on fresh copies
    error: type[Exception]
    fragments: tuple[str, ...]  # each must appear in the message, as whole words


def _set(a: np.ndarray, index, value) -> np.ndarray:
    a = np.array(a)
    a[index] = value
    return a


def _layer(params, l: int, W=None, b=None):
    """params with layer l's W or b replaced (layer l is params[l - 1])."""
    params = list(params)
    W_old, b_old = params[l - 1]
    params[l - 1] = (W_old if W is None else W, b_old if b is None else b)
    return params


SE, CE, BCE = "squared_error", "cross_entropy", "binary_cross_entropy"

BAD_INPUTS = {
    "x of the wrong width": BadInput(
        SE,
        lambda p, x, y: (p, x[:, :2], y),
        ValueError,
        ("x has shape (6, 2)", "(n, 3)", "n_0 = 3 inputs, the rows of layer 1's W of shape (3, 4)"),
    ),
    "x with one dimension": BadInput(
        SE, lambda p, x, y: (p, x[0], y), ValueError, ("x has shape (3,)", "(n, 3)", "layer 1")
    ),
    "too few layers in params": BadInput(
        SE,
        lambda p, x, y: (p[:2], x, y),
        ValueError,
        ("params has 2 layers", "L = 3", "(3, 4, 5, 2)"),
    ),
    "too many layers in params": BadInput(
        SE, lambda p, x, y: ([*p, p[-1]], x, y), ValueError, ("params has 4 layers", "L = 3")
    ),
    "W of the wrong shape": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 2, W=np.ones((5, 5))), x, y),
        ValueError,
        ("layer 2: W has shape (5, 5), but should be (4, 5)", "h^1 of width 4", "h^2 of width 5"),
    ),
    "W transposed": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 3, W=p[2][0].T), x, y),
        ValueError,
        ("layer 3: W has shape (2, 5), but should be (5, 2)",),
    ),
    "b as a column": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 1, b=p[0][1][:, None]), x, y),
        ValueError,
        ("layer 1: b has shape (4, 1), but should be (4,)", "h^1 of width 4"),
    ),
    "b of the wrong length": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 3, b=np.zeros(3)), x, y),
        ValueError,
        ("layer 3: b has shape (3,), but should be (2,)",),
    ),
    "a layer given as a string": BadInput(
        SE,
        lambda p, x, y: (["ab", p[1], p[2]], x, y),
        TypeError,
        ("layer 1: params[0] has type str, but should be a pair (W, b)", "(3, 4)", "(4,)"),
    ),
    "a layer given as a number": BadInput(
        SE,
        lambda p, x, y: ([p[0], 7, p[2]], x, y),
        TypeError,
        ("layer 2: params[1] has type int, but should be a pair (W, b)", "(4, 5)", "(5,)"),
    ),
    "a layer that is not a pair": BadInput(
        SE,
        lambda p, x, y: ([p[0], (p[1][0],), p[2]], x, y),
        TypeError,
        ("layer 2", "params[1]", "pair (W, b)", "(4, 5)", "(5,)"),
    ),
    "params not a list": BadInput(
        SE,
        lambda p, x, y: (dict(enumerate(p)), x, y),
        TypeError,
        ("params has type dict", "L = 3", "(3, 4, 5, 2)"),
    ),
    "an empty batch": BadInput(
        SE,
        lambda p, x, y: (p, x[:0], y[:0]),
        ValueError,
        ("x has shape (0, 3)", "empty", "give at least one row"),
    ),
    "NaN in x": BadInput(
        SE,
        lambda p, x, y: (p, _set(x, (2, 1), np.nan), y),
        ValueError,
        ("x (h^0, the input of layer 1) of shape (6, 3) holds nan at index [2, 1]",),
    ),
    "Inf in x": BadInput(
        SE,
        lambda p, x, y: (p, _set(x, (5, 0), np.inf), y),
        ValueError,
        ("of shape (6, 3) holds inf at index [5, 0]", "layer 1"),
    ),
    "NaN in W": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 2, W=_set(p[1][0], (3, 4), np.nan)), x, y),
        ValueError,
        ("layer 2: W of shape (4, 5) holds nan at index [3, 4]",),
    ),
    "-Inf in b": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 3, b=_set(p[2][1], 1, -np.inf)), x, y),
        ValueError,
        ("layer 3: b of shape (2,) holds -inf at index [1]",),
    ),
    "NaN in y": BadInput(
        SE,
        lambda p, x, y: (p, x, _set(y, (4, 1), np.nan)),
        ValueError,
        ("y of shape (6, 2) holds nan at index [4, 1]", "output layer L = 3", "(6, 2)"),
    ),
    "Inf in binary_cross_entropy targets": BadInput(
        BCE,
        lambda p, x, y: (p, x, _set(y, (0, 0), np.inf)),
        ValueError,
        ("y[0, 0] = inf", "[0, 1]", "output layer L = 3", "h^3 has shape (6, 2)"),
    ),
    "NaN in binary_cross_entropy targets": BadInput(
        BCE,
        lambda p, x, y: (p, x, _set(y, (3, 1), np.nan)),
        ValueError,
        ("y of shape (6, 2) holds nan at index [3, 1]", "output layer L = 3"),
    ),
    "cross_entropy labels as floats": BadInput(
        CE,
        lambda p, x, y: (p, x, y.astype(float)),
        TypeError,
        (
            "y has dtype float64",
            "integer labels in [0, 2)",
            "convert with y.astype(int) if they are whole numbers [output layer L = 3",
            "output layer L = 3",
        ),
    ),
    "a cross_entropy label too large": BadInput(
        CE,
        lambda p, x, y: (p, x, _set(y, 3, 2)),
        ValueError,
        ("y[3] = 2", "[0, 2)", "output layer L = 3", "h^3 has shape (6, 2)"),
    ),
    "a negative cross_entropy label": BadInput(
        CE, lambda p, x, y: (p, x, _set(y, 0, -1)), ValueError, ("y[0] = -1", "[0, 2)")
    ),
    "cross_entropy labels of the wrong shape": BadInput(
        CE,
        lambda p, x, y: (p, x, y[:, None]),
        ValueError,
        (
            "y has shape (6, 1), but should be (6,)",
            "one integer label per row of x for cross_entropy",
            "output layer L = 3",
        ),
    ),
    "a binary_cross_entropy target above 1": BadInput(
        BCE,
        lambda p, x, y: (p, x, _set(y, (1, 0), 1.5)),
        ValueError,
        ("y[1, 0] = 1.5", "[0, 1]", "output layer L = 3"),
    ),
    "a binary_cross_entropy target below 0": BadInput(
        BCE, lambda p, x, y: (p, x, _set(y, (2, 1), -0.25)), ValueError, ("y[2, 1] = -0.25",)
    ),
    "y of the wrong width": BadInput(
        SE,
        lambda p, x, y: (p, x, np.zeros((6, 3))),
        ValueError,
        (
            "y has shape (6, 3), but should be (6, 2)",
            "to match h^L (6 rows of x, n_L = 2) for squared_error [output layer L = 3",
            "output layer L = 3",
            "h^3 has shape (6, 2)",
        ),
    ),
    "binary_cross_entropy targets of the wrong width": BadInput(
        BCE,
        lambda p, x, y: (p, x, np.zeros((6, 3))),
        ValueError,
        (
            "y has shape (6, 3), but should be (6, 2)",
            "to match h^L (6 rows of x, n_L = 2) for binary_cross_entropy [output layer L = 3",
        ),
    ),
    "bool targets": BadInput(
        SE,
        lambda p, x, y: (p, x, y > 0),
        TypeError,
        ("y has dtype bool, but squared_error needs real numbers [output layer L = 3",),
    ),
    "bool binary_cross_entropy targets": BadInput(
        BCE,
        lambda p, x, y: (p, x, y > 0.5),
        TypeError,
        ("y has dtype bool, but binary_cross_entropy needs real numbers [output layer L = 3",),
    ),
    "y with too few rows": BadInput(
        BCE,
        lambda p, x, y: (p, x, y[:5]),
        ValueError,
        ("y has shape (5, 2), but should be (6, 2)",),
    ),
    "parameters of mixed dtypes": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 2, b=p[1][1].astype(np.float32)), x, y),
        TypeError,
        ("layer 2: b of shape (5,) has dtype float32", "layer 1's W of shape (3, 4) has float64"),
    ),
    "a weight of a second float type": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 2, W=p[1][0].astype(np.float32)), x, y),
        TypeError,
        ("layer 2: W of shape (4, 5) has dtype float32", "layer 1's W of shape (3, 4) has float64"),
    ),
    "integer parameters": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 1, W=np.ones((3, 4), dtype=int)), x, y),
        TypeError,
        ("layer 1: W of shape (3, 4) has dtype int64", "float64, float32"),
    ),
    "x of strings": BadInput(
        SE, lambda p, x, y: (p, x.astype(str), y), TypeError, ("x of shape (6, 3) has dtype",)
    ),
}
NEEDS_REAL = {  # accepted by forward() and error(), rejected by backprop() and gradients()
    "complex parameters": BadInput(
        SE,
        lambda p, x, y: (_layer(p, 1, W=p[0][0] + 0j), x, y),
        TypeError,
        (
            "layer 1: W of shape (3, 4) has dtype complex128, but should be one of float64, "
            "float32; complex parameters are accepted by forward() and error() only",
        ),
    ),
    "complex x": BadInput(
        SE,
        lambda p, x, y: (p, x + 0j, y),
        TypeError,
        (
            "x of shape (6, 3) has dtype complex128",
            "but should be real for layer 1: complex input is accepted by forward() and error() "
            "only",
        ),
    ),
}
ABOUT_Y = {  # the bad inputs that only an entry point given y can see
    name for name in BAD_INPUTS if {"y", "label", "labels", "target", "targets"} & set(name.split())
}


def _entry_points(name: str) -> dict[str, Callable]:
    points = {
        "backprop": lambda a, p, x, y: reference.backprop(a, p, x, y),
        "gradients": lambda a, p, x, y: reference.gradients(a, p, x, y),
        "train": lambda a, p, x, y: reference.train(a, p, x, y, alpha=0.1, epochs=1),
    }
    if name not in NEEDS_REAL:
        points["error"] = lambda a, p, x, y: reference.error(a, p, x, y)
        if name not in ABOUT_Y:
            points["forward"] = lambda a, p, x, y: reference.forward(a, p, x)
    return points


def _bad(name: str):
    bad = {**BAD_INPUTS, **NEEDS_REAL}[name]
    arch = reference.Architecture(sizes=SIZES, activations=ACTIVATIONS, loss=bad.loss)
    params, x, y = bad.change(*valid_input(bad.loss))
    if isinstance(params, list):
        params = [
            tuple(read_only(a) for a in layer) if isinstance(layer, tuple) else layer
            for layer in params
        ]
    return bad, arch, params, read_only(x), read_only(y)


CALLS = [
    pytest.param(name, point)
    for name in {**BAD_INPUTS, **NEEDS_REAL}
    for point in _entry_points(name)
]


@pytest.mark.parametrize(("name", "entry_point"), CALLS)
def test_bad_input_raises_naming_layer_and_shapes_and_modifies_nothing(name, entry_point) -> None:
    bad, arch, params, x, y = _bad(name)
    before = copy.deepcopy((params, x, y))
    with pytest.raises(bad.error) as raised:
        _entry_points(name)[entry_point](arch, params, x, y)
    assert_message(raised.value, mentions=bad.fragments)
    _assert_unchanged(before, (params, x, y))


def _assert_unchanged(before, after) -> None:
    (p0, x0, y0), (p1, x1, y1) = before, after
    np.testing.assert_array_equal(x1, x0, strict=True)
    np.testing.assert_array_equal(y1, y0, strict=True)
    assert type(p1) is type(p0) and len(p1) == len(p0)
    if isinstance(p0, dict):
        p0, p1 = list(p0.values()), list(p1.values())
    for layer0, layer1 in zip(p0, p1, strict=True):
        if not isinstance(layer0, tuple):  # a bad layer that is not a pair at all
            assert layer1 == layer0
            continue
        for a0, a1 in zip(layer0, layer1, strict=True):
            np.testing.assert_array_equal(a1, a0, strict=True)


@pytest.mark.parametrize(
    ("activations", "loss"),
    [(("tanh", "unknown", "identity"), "squared_error"), (("tanh", "relu", "identity"), "mse")],
)
def test_unknown_names_get_an_error_listing_the_valid_ones(activations, loss) -> None:
    with pytest.raises(ValueError) as raised:
        reference.Architecture(sizes=SIZES, activations=activations, loss=loss)
    if loss == "squared_error":
        valid = ", ".join(reference.ACTIVATIONS)
        assert_message(raised.value, layer=2, quantity="activation", got="'unknown'")
    else:
        valid = ", ".join(reference.LOSSES)
        assert_message(raised.value, quantity="loss", got="'mse'")
    assert_message(raised.value, mentions=[f"valid names: {valid}"])


@pytest.mark.parametrize(
    ("sizes", "activations", "parts"),
    [
        (
            (2, 1),
            "tanh",
            {
                "quantity": "activations",
                "got": "the string 'tanh'",
                "expected": "a sequence of one name per layer",
                "mentions": ["('tanh', 'identity')"],
            },
        ),
        ((2, 2.5), ("tanh",), {"quantity": "sizes[1]", "got": "2.5", "expected": "int >= 1"}),
        ((True, 1), ("tanh",), {"quantity": "sizes[0]", "got": "True", "expected": "int >= 1"}),
        ((2, 0), ("tanh",), {"quantity": "sizes[1]", "got": "0", "expected": "int >= 1"}),
        (
            (2,),
            (),
            {"quantity": "sizes", "got": "(2,)", "expected": "n_0 and at least n_1 (L >= 1"},
        ),
        (
            (2, 3, 1),
            ("tanh",),
            {
                "quantity": "activations",
                "got": "1 names",
                "expected": "one per layer",
                "mentions": ["L = 2", "(2, 3, 1)"],
            },
        ),
    ],
)
def test_bad_architecture_is_refused_saying_what_is_expected(sizes, activations, parts) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        reference.Architecture(sizes=sizes, activations=activations, loss="squared_error")
    assert_message(raised.value, **parts)


def test_non_finite_entries_are_counted_in_the_message() -> None:
    params, x, _ = valid_input("squared_error")
    x = x[:3]
    x[0, 1], x[1, 0], x[2, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError) as raised:
        reference.forward(_architecture("squared_error"), params, x)
    assert_message(raised.value, quantity="x", shapes=[(3, 3)], mentions=["(3 non-finite entries)"])


def test_a_bias_of_a_bad_dtype_is_named_b_without_the_hint_for_complex_numbers() -> None:
    """forward() accepts complex numbers: the hint that only forward() and error() do is for
    backprop() and gradients()."""
    params, x, _ = valid_input("squared_error")
    params = _layer(params, 3, b=params[2][1].astype(np.float16))
    with pytest.raises(TypeError) as raised:
        reference.forward(_architecture("squared_error"), params, x)
    assert_message(
        raised.value,
        layer=3,
        quantity="b",
        shapes=[(2,)],
        got="float16",
        expected="float64, float32, complex128",
        absent=["forward() and error() only"],
    )


def test_init_params_without_a_generator_says_what_came_and_how_to_make_one() -> None:
    with pytest.raises(TypeError) as raised:
        reference.init_params(_architecture("squared_error"), 0)
    assert_message(
        raised.value,
        quantity="rng",
        got="int",
        expected="numpy.random.Generator",
        mentions=["numpy.random.default_rng(seed)"],
    )


def _architecture(loss: str) -> reference.Architecture:
    return reference.Architecture(sizes=SIZES, activations=ACTIVATIONS, loss=loss)


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy", "binary_cross_entropy"])
def test_no_entry_point_modifies_its_arguments(loss) -> None:
    arch = reference.Architecture(sizes=SIZES, activations=ACTIVATIONS, loss=loss)
    params, x, y = valid_input(loss)
    params = [tuple(read_only(a) for a in layer) for layer in params]
    x, y = read_only(x), read_only(y)
    before = copy.deepcopy((params, x, y))
    reference.backprop(arch, params, x, y)
    reference.gradients(arch, params, x, y)
    reference.forward(arch, params, x)
    reference.error(arch, params, x, y)
    reference.train(arch, params, x, y, alpha=0.1, epochs=2)
    reference.train(
        arch, params, x, y, alpha=0.1, epochs=2, batch_size=4, rng=np.random.default_rng(0)
    )
    _assert_unchanged(before, (params, x, y))


def test_backprop_traces_do_not_alias_the_parameters() -> None:
    # a caller may modify the results; that must not reach the parameters
    arch = reference.Architecture(sizes=SIZES, activations=ACTIVATIONS, loss="squared_error")
    params, x, y = valid_input("squared_error")
    bp = reference.backprop(arch, params, x, y)
    arrays = [a for layer in params for a in layer]
    results = [*bp.z.values(), *bp.delta.values(), *bp.grad_W.values(), *bp.grad_b.values()]
    assert not any(np.shares_memory(r, a) for r in results for a in arrays)


# --- the fast path of check_inputs ----------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_INPUTS) + list(NEEDS_REAL))
def test_fast_path_sends_every_bad_input_to_the_detailed_checks(name) -> None:
    _, arch, params, x, y = _bad(name)
    assert _accept_quickly(arch.sizes, arch.loss, params, x, y) is None
    if name not in ABOUT_Y:
        assert _accept_quickly(arch.sizes, arch.loss, params, x, None) is None


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_accepts_valid_input_as_the_detailed_checks_do(loss, dtype) -> None:
    params, x, y = valid_input(loss)
    params = [(W.astype(dtype), b.astype(dtype)) for W, b in params]
    x = x.astype(dtype)
    y = y if loss == "cross_entropy" else y.astype(dtype)
    quick = _accept_quickly(SIZES, loss, params, x, y)
    assert quick is not None, "the fast path refused valid input: check_inputs is slow again"
    detailed = check_inputs(SIZES, loss, tuple(params), list(x), list(y))  # not plainly valid
    for a, b in zip(
        [a for layer in quick[0] for a in layer] + [quick[1], quick[2]],
        [a for layer in detailed[0] for a in layer] + [detailed[1], detailed[2]],
        strict=True,
    ):
        np.testing.assert_array_equal(a, b, strict=True)


def test_fast_path_refers_huge_but_finite_entries_to_the_detailed_checks() -> None:
    # the sum of squares overflows past 1e154: the detailed checks must then accept them
    params, x, y = valid_input("squared_error")
    x = _set(x, (0, 0), 1e200)
    assert _accept_quickly(SIZES, "squared_error", params, x, y) is None
    _, checked_x, _ = check_inputs(SIZES, "squared_error", params, x, y)
    assert checked_x[0, 0] == 1e200


def test_unchanged_check_catches_an_argument_modified_in_place() -> None:
    params, x, y = valid_input("squared_error")
    before = copy.deepcopy((params, x, y))
    params[1][1][0] += 1e-12  # what a careless `b += ...` inside a pass would do
    with pytest.raises(AssertionError):
        _assert_unchanged(before, (params, x, y))
