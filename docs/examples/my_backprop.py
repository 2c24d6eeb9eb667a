import numpy as np


def gradients(arch, params, x, y):  # tanh layers, the squared error
    h = [x]
    for W, b in params:  # (W^l, b^l) = params[l - 1]
        h.append(np.tanh(h[-1] @ W + b))  # h^l = tanh(h^{l-1} W^l + b^l)
    delta = (1 - h[-1] ** 2) * (h[-1] - y) / len(x)  # delta^L, with the 1/n of the mean
    grads = []
    for l in range(arch.L, 0, -1):  # from layer L down to layer 1
        grads.insert(0, (h[l - 1].T @ delta, delta.sum(axis=0)))  # dE/dW^l, dE/db^l
        if l > 1:
            delta = (1 - h[l - 1] ** 2) * (delta @ params[l - 1][0].T)  # delta^{l-1}
    return grads
