"""Adapters: your own pieces of gradient code as a gradient implementation of the contract.

The gate judges any callable gradients(arch, params, x, y) -> [(dE/dW^l, dE/db^l)]
(docs/contract.md, section 4). Code written for a framework is seldom shaped like that: it is a
linear layer and activations with their own backward, or a function of (params, x, y). An
adapter assembles those pieces into the network of each case, so that the backward code the
gate judges is yours:

    verification.adapters.torch.gradients_of(linear=..., layer=..., activations=..., losses=...)
        your torch.autograd.Functions (custom backward) or nn.Modules;
    verification.adapters.jax.gradients_of(linear=..., activations=..., losses=...)
        your JAX functions, e.g. with a jax.custom_vjp;
    verification.adapters.jax.from_function(fn, hidden=..., output=..., loss=...)
        your function fn(params, x, y) -> grads.

Assign the adapter at module level and name it to the gate, e.g.
`python -m verification --impl my_layers.py:gradients`. docs/adapters.md shows each catching a
planted bug. Importing this package loads neither torch nor JAX: each adapter module imports its
framework (JAX only when an adapter is made).
"""
