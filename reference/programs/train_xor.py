"""`python -m reference [train]`: a first thing to run. Trains a small network on XOR by backprop.

The network is 2-N-1 (tanh hidden layer, sigmoid output) with the squared error, trained by
full-batch gradient descent with the seed's rule Delta W^l = -alpha dE/dW^l,
Delta b^l = -alpha dE/db^l. It prints E every K epochs and ends with the learned outputs beside
the targets.
"""

import numpy as np

from reference.network import Architecture, error, forward, init_params
from reference.training import train

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def run_train(epochs: int, alpha: float, seed: int, every: int, hidden: int) -> None:
    """Train on XOR, printing E at epoch 0 (before training), every `every` epochs and the last.

    Raises ValueError (from the input checks) if the parameters become NaN or Inf.
    """
    arch = Architecture(sizes=(2, hidden, 1), activations=("tanh", "sigmoid"), loss="squared_error")
    params = init_params(arch, np.random.default_rng(seed))
    print(
        f"XOR: sizes {arch.sizes}, activations {', '.join(arch.activations)}, loss {arch.loss}; "
        f"alpha = {alpha}, {epochs} epochs, seed {seed}"
    )
    print(f"{'epoch':>7}  E")
    print(f"{0:>7}  {float(error(arch, params, XOR_X, XOR_Y)):.6e}")
    result = train(arch, params, XOR_X, XOR_Y, alpha=alpha, epochs=epochs)
    for epoch, E in enumerate(result.E, start=1):
        if epoch % every == 0 or epoch == epochs:
            print(f"{epoch:>7}  {E:.6e}")
    h_L = forward(arch, result.params, XOR_X).h[arch.L]
    print(f"{'x':>10}  {'target':>6}  {'output h^L':>10}")
    for x, y, h in zip(XOR_X, XOR_Y, h_L, strict=True):
        print(f"{x[0]:>4.0f} {x[1]:>4.0f}  {y[0]:>6.0f}  {h[0]:>10.4f}")
