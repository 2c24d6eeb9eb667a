"""Backprop for identity, tanh and relu layers, with the squared error or the cross-entropy."""

import numpy as np

PHI = {"identity": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
DPHI = {
    "identity": np.ones_like,
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(z.dtype),  # relu'(0) = 0, as the contract says
}


def output_error(loss, h_L, y):
    """dE/dh^L, the 1/n of the batch mean included; h_L (n, n_L)."""
    n = len(h_L)
    if loss == "squared_error":  # y (n, n_L)
        return (h_L - y) / n
    if loss == "cross_entropy":  # h^L are logits, y integer labels (n,)
        e = np.exp(h_L - h_L.max(axis=1, keepdims=True))  # shifted: e^h cannot overflow
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(n), y] -= 1  # softmax(h^L) - onehot(y)
        return p / n
    raise ValueError(f"loss {loss!r} is not supported; gate with --losses")


def gradients(arch, params, x, y):
    z, h = [None], [x]  # z[l], h[l] for l = 1..L; h[0] = x
    for (W, b), name in zip(params, arch.activations, strict=True):
        z.append(h[-1] @ W + b)
        h.append(PHI[name](z[-1]))
    delta = DPHI[arch.activations[-1]](z[-1]) * output_error(arch.loss, h[-1], y)  # delta^L
    grads = [None] * arch.L
    for l in range(arch.L, 0, -1):  # layer l is params[l - 1]
        grads[l - 1] = (h[l - 1].T @ delta, delta.sum(axis=0))
        if l > 1:  # delta^{l-1} = phi'(z^{l-1}) * delta^l (W^l)^T
            delta = DPHI[arch.activations[l - 2]](z[l - 1]) * (delta @ params[l - 1][0].T)
    return grads
