"""A user's JAX code: a tanh with a jax.custom_vjp, and a hand-written backprop function
(params, x, y) -> grads for tanh networks with a linear output and the squared error.

    python -m verification --impl verification/tests/adapter_users/jax_pieces.py:gradients

`gradients` and `function_gradients` are correct. Planted bugs:

    tanh_bwd_doubled          the custom_vjp's bwd returns 2 tanh'(z) g
    function_forgets_mean     the hand-written backprop starts from h^L - y, not (h^L - y) / n
"""

import jax
import jax.numpy as jnp

from verification.adapters.jax import from_function, gradients_of

# The adapters turn on JAX's float64 mode when they are made; the arrays below are made later.


@jax.custom_vjp
def tanh(z):
    return jnp.tanh(z)


def tanh_fwd(z):
    h = jnp.tanh(z)
    return h, h  # the output, and what bwd needs: h itself


def tanh_bwd(h, grad_h):
    return (grad_h * (1 - h**2),)  # tanh'(z) = 1 - tanh(z)^2


tanh.defvjp(tanh_fwd, tanh_bwd)


@jax.custom_vjp
def tanh_doubled(z):
    return jnp.tanh(z)


def tanh_doubled_bwd(h, grad_h):
    return (2 * grad_h * (1 - h**2),)  # planted: a factor 2


tanh_doubled.defvjp(tanh_fwd, tanh_doubled_bwd)


def backprop(params, x, y, *, mean=True):
    """[(dE/dW^l, dE/db^l)] of a tanh network with a linear output layer and E the batch mean
    of 1/2 sum (h^L - y)^2, by hand: delta^L = dE/dh^L, delta^l = (1 - (h^l)^2) *
    delta^{l+1} (W^{l+1})^T, dE/dW^l = (h^{l-1})^T delta^l, dE/db^l = 1^T delta^l."""
    h = [x]
    for l, (W, b) in enumerate(params, start=1):
        z = h[-1] @ W + b
        h.append(z if l == len(params) else jnp.tanh(z))
    delta = (h[-1] - y) / x.shape[0] if mean else h[-1] - y
    grads = []
    for l in range(len(params), 0, -1):
        grads.insert(0, (h[l - 1].T @ delta, delta.sum(axis=0)))
        if l > 1:
            delta = (1 - h[l - 1] ** 2) * (delta @ params[l - 1][0].T)
    return grads


def backprop_forgets_mean(params, x, y):
    return backprop(params, x, y, mean=False)  # planted: no 1/n


gradients = gradients_of(activations={"tanh": tanh})
tanh_bwd_doubled = gradients_of(activations={"tanh": tanh_doubled})
function_gradients = from_function(backprop, hidden="tanh", output="identity", loss="squared_error")
function_forgets_mean = from_function(
    backprop_forgets_mean, hidden="tanh", output="identity", loss="squared_error"
)
