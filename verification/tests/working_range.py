"""Random networks whose units work in their ordinary range (not saturated), for the tests of
the oracles: there the oracles must agree with the reference to near machine precision."""

import zlib

import numpy as np

import reference


def working_range_case(
    seed: int,
    activations: tuple[str, ...],
    loss: str,
    *,
    n: int,
    n_0: int,
    max_width: int,
    bias_scale: float,
):
    """(arch, params, x, y): hidden widths 1..max_width, n_0 inputs, n_L = 3 outputs,
    LeCun-scaled weights, biases of scale `bias_scale`, inputs of unit scale."""
    rng = np.random.default_rng(seed)
    hidden = (int(w) for w in rng.integers(1, max_width + 1, len(activations) - 1))
    sizes = (n_0, *hidden, 3)
    arch = reference.Architecture(sizes=sizes, activations=activations, loss=loss)
    params = [
        (W, bias_scale * rng.standard_normal(b.shape)) for W, b in reference.init_params(arch, rng)
    ]
    x = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n) if loss == "cross_entropy" else rng.random((n, sizes[-1]))
    return arch, params, x, y


def seed_of(*names: str) -> int:
    """A seed fixed by the names (Python's hash of a str changes from run to run)."""
    return zlib.crc32(" ".join(names).encode())
