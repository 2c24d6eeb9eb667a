"""The reference's gradients, returned as JAX arrays (float64)."""

import jax

import reference

jax.config.update("jax_enable_x64", True)


def gradients(arch, params, x, y):
    return [
        (jax.numpy.asarray(W), jax.numpy.asarray(b))
        for W, b in reference.gradients(arch, params, x, y)
    ]
