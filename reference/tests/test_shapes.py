"""The shape of every array: h^l, z^l, delta^l (n, n_l), dE/dW^l (n_{l-1}, n_l), dE/db^l (n_l,).

Depths 1 to 4, widths of 1 included, batches of 1 included, for every loss.
"""

from itertools import pairwise

import numpy as np
import pytest

import reference
from reference.tests.networks import LOSS_NAMES, random_case

SIZES = [
    (1, 1),
    (3, 1),
    (1, 4),
    (2, 3),
    (1, 1, 1),
    (4, 1, 3),
    (2, 5, 1, 3),
    (3, 1, 1, 1, 2),
    (1, 6, 2, 4, 1),
]
BATCHES = [1, 2, 7]


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("n", BATCHES)
def test_every_array_of_backprop_has_the_seed_shape(sizes, n, loss) -> None:
    rng = np.random.default_rng([len(sizes), sum(sizes), n])
    case = random_case(rng, sizes=sizes, loss=loss, n=n)
    L = case.arch.L
    bp = reference.backprop(case.arch, case.params, case.x, case.y)

    assert np.ndim(bp.E) == 0, f"E has shape {np.shape(bp.E)}, but should be a scalar"
    assert sorted(bp.h) == list(range(L + 1))
    for trace in (bp.z, bp.delta, bp.grad_W, bp.grad_b):
        assert sorted(trace) == list(range(1, L + 1))
    assert bp.h[0].shape == (n, sizes[0])
    for l in range(1, L + 1):
        where = f"sizes {sizes}, n = {n}, layer {l}"
        assert bp.z[l].shape == (n, sizes[l]), f"{where}: z"
        assert bp.h[l].shape == (n, sizes[l]), f"{where}: h"
        assert bp.delta[l].shape == (n, sizes[l]), f"{where}: delta"
        assert bp.grad_W[l].shape == (sizes[l - 1], sizes[l]), f"{where}: dE/dW"
        assert bp.grad_b[l].shape == (sizes[l],), f"{where}: dE/db"

    grads = reference.gradients(case.arch, case.params, case.x, case.y)
    assert [(gW.shape, gb.shape) for gW, gb in grads] == [
        (W.shape, b.shape) for W, b in case.params
    ]
    assert [(gW.shape, gb.shape) for gW, gb in bp.grads] == [
        (W.shape, b.shape) for W, b in case.params
    ]

    trace = reference.forward(case.arch, case.params, case.x)
    assert {l: a.shape for l, a in trace.h.items()} == {l: a.shape for l, a in bp.h.items()}
    assert {l: a.shape for l, a in trace.z.items()} == {l: a.shape for l, a in bp.z.items()}
    assert np.ndim(reference.error(case.arch, case.params, case.x, case.y)) == 0


@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_init_params_gives_W_and_b_of_the_seed_shapes(sizes) -> None:
    arch = reference.Architecture(
        sizes=sizes, activations=("tanh",) * (len(sizes) - 1), loss="squared_error"
    )
    params = reference.init_params(arch, np.random.default_rng(0))
    assert [(W.shape, b.shape) for W, b in params] == [((m, k), (k,)) for m, k in pairwise(sizes)]
    assert arch.parameter_count == sum(W.size + b.size for W, b in params)
