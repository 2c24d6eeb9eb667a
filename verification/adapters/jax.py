"""The JAX adapter: your activations (e.g. with a jax.custom_vjp), or your whole gradient
function, as a gradient implementation of docs/contract.md, section 4.

    gradients = gradients_of(activations={"tanh": my_tanh})                    # your pieces
    gradients = from_function(my_grads, hidden="tanh", output="identity",
                              loss="squared_error")                             # your function

Assign either at module level in your file, and the gate judges your backward code:

    python -m verification --impl my_jax.py:gradients --activations tanh

JAX is an optional extra (`pip install 'backprop-oracle[jax]'`): this module imports it only
when an adapter is made or called, and says how to install it if it is missing.

**float64.** The gate judges float64 gradients. JAX computes in float32 unless its x64 mode is
on, so the adapters turn it on (`jax.config.update("jax_enable_x64", True)`) when they are made
and check it at every call. Make the adapter before your module creates JAX arrays (a constant
made earlier stays float32), or set the environment variable JAX_ENABLE_X64=1.

**gradients_of(linear=None, activations=None, losses=None, fallback=True)** builds the network of
each case from your pieces, examples as rows,

    z^l = linear(h^{l-1}, W^l, b^l),   h^l = phi_l(z^l),   E = loss(h^L, y)   (the batch mean)

with jax.vjp around each piece, and runs the backward pass one piece at a time from the output
layer down, so that your custom_vjp's bwd rule computes its part of it:

    dE/dh^L                                    through the loss
    delta^l = dE/dz^l                          through phi_l, from dE/dh^l
    dE/dW^l, dE/db^l, dE/dh^{l-1}              through the linear layer, from delta^l

An exception raised in your bwd rule is reported by the gate at the layer it was working on.
`linear` is a function (h, W, b) -> z with W as the seed writes it, (n_{l-1}, n_l) (as stax's
Dense and flax's kernel hold it); by default h @ W + b. `activations` and `losses` map names of
the contract (sections 2 and 3) to your functions: phi(z) elementwise, and loss(h^L, y) -> E,
the batch MEAN (y is float64, or int64 labels for cross_entropy). For a name you did not
supply, `fallback=True` takes JAX's own function (jax.nn's, except leaky_relu: jax.nn.leaky_relu
has slope 1 at 0, where the contract has 0.01), and `fallback=False` refuses the case with a
ValueError naming the layer and the name.

**from_function(fn, hidden=..., output=..., loss=...)** wraps your function
`fn(params, x, y) -> grads`: params is a list of L pairs (W^l, b^l) of float64 JAX arrays, and
grads must be a list (or tuple) of L pairs (dE/dW^l, dE/db^l) in the same layout, as
`jax.grad` of a function of such params returns them. Your function computes one kind of network,
so you state which: `hidden` (the activation of layers 1..L-1), `output` (layer L) and `loss`.
A case of any other kind raises a ValueError saying how to restrict the gate to yours.

Both return float64 NumPy arrays, one (dE/dW^l, dE/db^l) pair per layer.

**jax.jit.** Op by op, JAX compiles every operation afresh for each new shape (0.1 to 0.2 s
each), and the gate's cases come in ever new shapes: a call on a case of three layers took 1.4
s. So both adapters run under jax.jit by default (`jit=True`): each case's whole forward and
backward pass is one compilation (0.2 to 1.5 s a case, 0.4 s for those three layers), and a
second call on the same shapes (the gate's determinism check) reuses it. (Times measured on
this project's 2-core machine under a load of about 10; an idle machine is several times
faster.) Your pieces must then be traceable, as any function
under jit: no Python `if` on array values, no conversion of an array to a float. Pass
`jit=False` for code that is not (slower, op by op).
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from reference import ACTIVATIONS, LOSSES
from verification.adapters.pieces import caller_module, checked_pieces, name_of, piece_for

LEAKY_SLOPE = 0.01  # the contract's leaky_relu slope below 0, and at 0 itself
INSTALL = "pip install 'backprop-oracle[jax]' (or pip install jax)"

Array = Any  # a jax.Array: JAX is not imported at this module's import
Linear = Callable[[Array, Array, Array], Array]
"""(h^{l-1} (n, n_{l-1}), W^l (n_{l-1}, n_l), b^l (n_l,)) -> z^l (n, n_l)."""
Activation = Callable[[Array], Array]
"""z^l (n, n_l) -> h^l = phi_l(z^l) (n, n_l), elementwise."""
Loss = Callable[[Array, Array], Array]
"""(h^L (n, n_L), y) -> E, the batch mean of the per-example loss (a scalar)."""
GradientFunction = Callable[[list, Array, Array], Any]
"""(params [(W^l, b^l)], x, y) -> [(dE/dW^l, dE/db^l) for l = 1..L]."""
Gradients = list[tuple[np.ndarray, np.ndarray]]


def _jax() -> tuple[ModuleType, ModuleType]:
    """(jax, jax.numpy), imported now, with float64 (x64) on; ImportError saying how to install
    JAX if it is missing."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as exc:
        raise ImportError(
            f"the JAX adapter needs JAX, which is an optional extra: {INSTALL} ({exc})"
        ) from None
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax, jnp


@functools.cache
def own_activations() -> dict[str, Activation]:
    """phi for each activation name of the contract (section 2), in JAX: the fallbacks.

    The kinks follow the contract (PyTorch's): jax.nn.relu has relu'(0) = 0 and jax.nn.elu
    has elu'(0) = 1, as the contract; jax.nn.leaky_relu has slope 1 at 0, so leaky_relu is
    written here with slope 0.01 there. jax.nn.softplus is logaddexp(z, 0), exact everywhere.
    """
    jax, jnp = _jax()

    def leaky_relu(z: Array) -> Array:
        return jnp.where(z > 0, z, LEAKY_SLOPE * z)  # z = 0 takes the 0.01 z branch

    own = {
        "identity": lambda z: z,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "leaky_relu": leaky_relu,
        "softplus": jax.nn.softplus,
        "elu": jax.nn.elu,
        "gelu_tanh": functools.partial(jax.nn.gelu, approximate=True),
    }
    return own


@functools.cache
def own_losses() -> dict[str, Loss]:
    """E(h^L, y) for each loss name of the contract (section 3), in JAX: the fallbacks."""
    jax, jnp = _jax()

    def squared_error(h: Array, y: Array) -> Array:
        """E = (1/n) sum_i 1/2 sum_k (h_ik - y_ik)^2."""
        return 0.5 * jnp.sum((h - y) ** 2) / h.shape[0]

    def cross_entropy(h: Array, y: Array) -> Array:
        """E = (1/n) sum_i -log softmax(h_i)_{y_i}; h^L are logits, y integer labels."""
        log_p = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    def binary_cross_entropy(h: Array, y: Array) -> Array:
        """E = (1/n) sum_i sum_k (softplus(h_ik) - y_ik h_ik); h^L are logits."""
        return jnp.sum(jax.nn.softplus(h) - y * h) / h.shape[0]

    own = {
        "squared_error": squared_error,
        "cross_entropy": cross_entropy,
        "binary_cross_entropy": binary_cross_entropy,
    }
    return own


def _seed_linear(h: Array, W: Array, b: Array) -> Array:
    """z = h W + b with W (n_{l-1}, n_l): the linear layer when you supply none."""
    return h @ W + b


def _as_function(piece: object, where: str) -> Callable:
    if not callable(piece):
        raise TypeError(
            f"{where} is a {type(piece).__name__}, but should be a function, e.g. one "
            "decorated with jax.custom_vjp"
        )
    return piece


def _targets(jnp: ModuleType, loss: str, y: object) -> Array:
    """y as the loss wants it: int64 labels for cross_entropy, float64 otherwise."""
    return jnp.asarray(np.asarray(y), dtype=jnp.int64 if loss == "cross_entropy" else jnp.float64)


def _numpy_pairs(grads: object, L: int, where: str) -> Gradients:
    """[(dE/dW^l, dE/db^l)] as NumPy arrays (their dtype kept, for the gate to judge), or
    TypeError naming `where` if grads is not a sequence of L pairs."""
    if not isinstance(grads, list | tuple) or len(grads) != L:
        got = f"{len(grads)} items" if isinstance(grads, list | tuple) else type(grads).__name__
        raise TypeError(
            f"{where} returned {got}, but should return a list of L = {L} pairs "
            "(dE/dW^l, dE/db^l), in the layout of params"
        )
    pairs = []
    for l, pair in enumerate(grads, start=1):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise TypeError(
                f"layer {l}: {where} returned a {type(pair).__name__} there, but should return "
                "a pair (dE/dW^l, dE/db^l)"
            )
        pairs.append((np.asarray(pair[0]), np.asarray(pair[1])))
    return pairs


@dataclass(frozen=True, repr=False, eq=False)  # eq=False: hashed by identity, for jax.jit
class JaxGradients:
    """A gradient implementation (docs/contract.md, section 4) made of your JAX pieces; made
    by gradients_of. gradients(arch, params, x, y) -> [(dE/dW^l, dE/db^l) for l = 1..L]."""

    linear: Linear | None = None
    activations: Mapping[str, Activation] = field(default_factory=dict)
    losses: Mapping[str, Loss] = field(default_factory=dict)
    fallback: bool = True
    jit: bool = True

    def __repr__(self) -> str:
        parts = [f"linear={name_of(self.linear)}"] if self.linear is not None else []
        for what, pieces in (("activations", self.activations), ("losses", self.losses)):
            if pieces:
                named = ", ".join(f"{k!r}: {name_of(v)}" for k, v in pieces.items())
                parts.append(f"{what}={{{named}}}")
        parts += [f"fallback={self.fallback}", f"jit={self.jit}"]
        return f"JaxGradients({', '.join(parts)})"

    def __call__(self, arch, params, x, y) -> Gradients:
        """[(dE/dW^l, dE/db^l) for l = 1..L] of the network `arch` built of your pieces."""
        _, jnp = _jax()
        network = (tuple(arch.sizes), tuple(arch.activations), arch.loss)
        L = len(network[0]) - 1
        if len(params) != L:
            raise ValueError(f"params has {len(params)} layers, but arch.sizes {arch.sizes} {L}")
        params_jax = [(jnp.asarray(W, jnp.float64), jnp.asarray(b, jnp.float64)) for W, b in params]
        x_jax, y_jax = jnp.asarray(x, jnp.float64), _targets(jnp, arch.loss, y)
        backprop = _jitted_backprop() if self.jit else JaxGradients._backprop
        grads = backprop(self, network, params_jax, x_jax, y_jax)
        return [(np.asarray(grad_W), np.asarray(grad_b)) for grad_W, grad_b in grads]

    def _backprop(self, network: tuple, params: list, x: Array, y: Array) -> list:
        """The forward pass through your pieces, then the backward pass one piece at a time.

        network: (sizes, activations, loss), static under jax.jit; params [(W^l, b^l)], x, y as
        JAX float64 arrays (y int64 for cross_entropy). Returns [(dE/dW^l, dE/db^l)].
        """
        jax, jnp = _jax()
        sizes, activations, loss_name = network
        L = len(sizes) - 1
        phi = [self._activation(l, name) for l, name in enumerate(activations, start=1)]
        loss = self._loss(loss_name)
        linear = self.linear or _seed_linear
        linear_vjp, phi_vjp = [], []  # [l - 1] is layer l's backward
        h = x  # h^0 = x
        for l in range(1, L + 1):
            W, b = params[l - 1]  # layer l is params[l - 1]
            # z^l = h^{l-1} W^l + b^l, then h^l = phi_l(z^l), each piece with its backward
            z, backward = jax.vjp(linear, h, W, b)
            _check_shape(z, (h.shape[0], sizes[l]), f"layer {l}: the linear layer", f"z^{l}")
            linear_vjp.append(backward)
            h, backward = jax.vjp(phi[l - 1], z)
            _check_shape(h, z.shape, f"layer {l}: activation {activations[l - 1]!r}", f"h^{l}")
            phi_vjp.append(backward)
        E, loss_vjp = jax.vjp(lambda h_L: loss(h_L, y), h)
        _check_shape(E, (), f"the loss {loss_name!r}", "E")
        (grad_h,) = loss_vjp(jnp.ones_like(E))  # dE/dh^L
        grads: list = [None] * L
        for l in range(L, 0, -1):
            (delta,) = phi_vjp[l - 1](grad_h)  # delta^l = phi_l'(z^l) * dE/dh^l
            grad_h, grad_W, grad_b = linear_vjp[l - 1](delta)  # dE/dh^{l-1}, dE/dW^l, dE/db^l
            grads[l - 1] = (grad_W, grad_b)
        return grads

    def _activation(self, l: int, name: str) -> Activation:
        where = f"layer {l}: activation"
        own = own_activations()
        return piece_for(
            name,
            self.activations,
            own,
            fallback=self.fallback,
            where=where,
            keyword="activations",
            framework="JAX",
        )

    def _loss(self, name: str) -> Loss:
        own = own_losses()
        return piece_for(
            name,
            self.losses,
            own,
            fallback=self.fallback,
            where="the loss",
            keyword="losses",
            framework="JAX",
        )


@functools.cache
def _jitted_backprop() -> Callable:
    """JaxGradients._backprop under jax.jit (the adapter and the network static): compiled once
    per adapter, network and shapes (see this module's docstring, "jax.jit")."""
    jax, _ = _jax()
    return jax.jit(JaxGradients._backprop, static_argnums=(0, 1))


def _check_shape(value: Array, shape: tuple, where: str, what: str) -> None:
    got = tuple(value.shape) if hasattr(value, "shape") else type(value).__name__
    if got != tuple(shape):
        raise ValueError(f"{where} gave {what} of shape {got}, but should be {tuple(shape)}")


@dataclass(frozen=True, repr=False)
class JaxFunctionGradients:
    """Your function fn(params, x, y) -> grads as a gradient implementation of the contract,
    for the networks it computes: `hidden` activations in layers 1..L-1, `output` in layer L,
    and `loss`; made by from_function."""

    fn: GradientFunction
    hidden: str
    output: str
    loss: str
    jit: bool = True

    def __repr__(self) -> str:
        return (
            f"JaxFunctionGradients({name_of(self.fn)}, hidden={self.hidden!r}, "
            f"output={self.output!r}, loss={self.loss!r}, jit={self.jit})"
        )

    def __call__(self, arch, params, x, y) -> Gradients:
        """[(dE/dW^l, dE/db^l) for l = 1..L] from fn, on a case of the kind it computes."""
        self._check_kind(arch)
        _, jnp = _jax()
        L = len(arch.sizes) - 1
        params_jax = [(jnp.asarray(W, jnp.float64), jnp.asarray(b, jnp.float64)) for W, b in params]
        x_jax, y_jax = jnp.asarray(x, jnp.float64), _targets(jnp, arch.loss, y)
        call = _jitted_call() if self.jit else _call
        return _numpy_pairs(call(self.fn, params_jax, x_jax, y_jax), L, name_of(self.fn))

    def _check_kind(self, arch) -> None:
        """ValueError, naming the layer, for a case that fn does not compute."""
        L = len(arch.sizes) - 1
        restrict = (
            f"restrict the gate to it: --activations {self.hidden} --output-activations "
            f"{self.output} --losses {self.loss}"
        )
        for l, name in enumerate(arch.activations, start=1):
            expected = self.output if l == L else self.hidden
            if name != expected:
                raise ValueError(
                    f"layer {l}: the case has activation {name!r}, but {name_of(self.fn)} "
                    f"computes {expected!r} there; {restrict}"
                )
        if arch.loss != self.loss:
            raise ValueError(
                f"the case has loss {arch.loss!r}, but {name_of(self.fn)} computes "
                f"{self.loss!r}; {restrict}"
            )


def _call(fn: GradientFunction, params: list, x: Array, y: Array) -> Any:
    return fn(params, x, y)


@functools.cache
def _jitted_call() -> Callable:
    """_call under jax.jit, fn static: compiled once per function and shapes."""
    jax, _ = _jax()
    return jax.jit(_call, static_argnums=0)


def _warm_up(jnp: ModuleType) -> None:
    """Start JAX's CPU backend now, while your module is imported (the gate allows an import
    far more time than one call), rather than in the first case's call."""
    jnp.zeros(()).block_until_ready()


def gradients_of(
    *,
    linear: Linear | None = None,
    activations: Mapping[str, Activation] | None = None,
    losses: Mapping[str, Loss] | None = None,
    fallback: bool = True,
    jit: bool = True,
) -> JaxGradients:
    """A gradient implementation gradients(arch, params, x, y) built of your JAX pieces.

    linear: your linear layer (h, W, b) -> z, W (n_{l-1}, n_l); default h @ W + b.
    activations, losses: {name of the contract: your function}, e.g. a jax.custom_vjp.
    fallback: True: JAX's own function for a name you did not supply (see own_activations);
        False: a case that needs one raises ValueError naming the layer and the name.
    jit: run each case's forward and backward pass under jax.jit (see this module's
        docstring); False for pieces that cannot be traced.

    Imports JAX and turns on its x64 mode (see this module's docstring); TypeError or
    ValueError at once for a piece that cannot serve, naming it.
    """
    _, jnp = _jax()
    for what, flag in (("fallback", fallback), ("jit", jit)):
        if not isinstance(flag, bool):
            raise TypeError(f"{what} is a {type(flag).__name__}, but should be True or False")
    adapter = JaxGradients(
        linear=_as_function(linear, "linear") if linear is not None else None,
        activations=checked_pieces(activations, "activations", _as_function),
        losses=checked_pieces(losses, "losses", _as_function),
        fallback=fallback,
        jit=jit,
    )
    if not (adapter.linear or adapter.activations or adapter.losses):
        raise ValueError(
            "gradients_of() was given none of your pieces (linear, activations, losses): "
            "there would be nothing of yours for the gate to judge"
        )
    _warm_up(jnp)
    object.__setattr__(adapter, "__module__", caller_module())  # see caller_module
    return adapter


def from_function(
    fn: GradientFunction, *, hidden: str, output: str, loss: str, jit: bool = True
) -> JaxFunctionGradients:
    """Your fn(params, x, y) -> [(dE/dW^l, dE/db^l)] as a gradient implementation.

    hidden, output, loss: the names of the contract that fn computes: the activation of every
    hidden layer (1..L-1), that of the output layer L, and the loss. A case of another kind
    raises ValueError saying which gate options restrict it to fn's kind.
    jit: call fn under jax.jit (see this module's docstring); False if fn cannot be traced.

    Imports JAX and turns on its x64 mode (see this module's docstring).
    """
    _, jnp = _jax()
    if not isinstance(jit, bool):
        raise TypeError(f"jit is a {type(jit).__name__}, but should be True or False")
    if not callable(fn):
        raise TypeError(f"fn is a {type(fn).__name__}, but should be a function (params, x, y)")
    for what, name, valid in (
        ("hidden", hidden, ACTIVATIONS),
        ("output", output, ACTIVATIONS),
        ("loss", loss, LOSSES),
    ):
        if name not in valid:
            raise ValueError(
                f"{what}={name!r} is not a name of the contract; valid: {tuple(valid)}"
            )
    adapter = JaxFunctionGradients(fn, hidden, output, loss, jit)
    _warm_up(jnp)
    object.__setattr__(adapter, "__module__", caller_module())  # see caller_module
    return adapter
