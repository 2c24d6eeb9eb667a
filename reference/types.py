"""Type aliases shared by the reference: arrays, parameters, gradients."""

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

Array: TypeAlias = NDArray[np.floating] | NDArray[np.complexfloating]
"""A float64 (default), float32 or complex128 array."""

Layer: TypeAlias = tuple[Array, Array]
"""(W^l, b^l) of one layer, or (dE/dW^l, dE/db^l) of its gradient."""

Params: TypeAlias = list[Layer]
"""One (W, b) per layer in layer order: layer l is params[l - 1]."""
