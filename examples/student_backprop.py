"""A student's backprop for tanh networks with the squared error, with one classic slip.

Run the gate on it:

    python -m verification --impl examples/student_backprop.py:gradients \\
        --activations tanh --losses squared_error

It fails, naming the layer, the entry, the expected and the actual value, and diagnosing the
slip: the output error is missing the 1/n of the batch mean.
"""

# --8<-- [start:code] (docs/tutorial.md shows the code from here to [end:code])
import numpy as np


def gradients(arch, params, x, y):
    h = [x]
    for W, b in params:
        h.append(np.tanh(h[-1] @ W + b))
    delta = (1 - h[-1] ** 2) * (h[-1] - y)  # the slip: dE/dh^L is (h^L - y) / n
    grads = []
    for l in range(arch.L, 0, -1):
        grads.insert(0, (h[l - 1].T @ delta, delta.sum(axis=0)))
        if l > 1:
            delta = (1 - h[l - 1] ** 2) * (delta @ params[l - 1][0].T)
    return grads


# --8<-- [end:code]
