"""Evaluations of the perturbed network: h^L after a stack of perturbations of one column of
z^l, from the unperturbed _Trace, changing only what the perturbation reaches.

_real_step_outputs moves z^l by real steps and measures, on the way up, each kink crossed and
how far each curved unit moved (its reach); _complex_step_outputs moves it by i COMPLEX_STEP
and carries a first-order bound on the rounding of the imaginary parts. _chunk_size says how
many perturbations are stacked at once (CHUNK_BYTES).
"""

import numpy as np

from reference.activations import ACTIVATIONS
from reference.types import Array, Params
from verification.oracles.finite_differences.constants import (
    _SUBNORMAL,
    CHUNK_BYTES,
    COMPLEX_STEP,
)
from verification.oracles.finite_differences.forward import _Trace
from verification.oracles.rounding import ROUNDING


def _crosses_kink(z_new: Array, z_old: np.ndarray, kink: float) -> np.ndarray:
    """True for each row where some unit moved to the other side of the kink, onto it, or off.

    Shapes: z_new (S, K, n, m), z_old broadcastable to it -> bool (K, n): any over S and m.
    """
    moved_across = (z_new > kink) != (z_old > kink)
    moved_off = (z_old == kink) & (z_new != z_old)
    return (moved_across | moved_off).any(axis=(0, -1))


def _reach(dz: np.ndarray, inverse_room: np.ndarray | None) -> np.ndarray | float:
    """max |dz| / room over steps and units: dz (S, K, n, m) -> (K, n) (0.0 if nothing curved).

    Where even the largest move over the smallest room is within reach, that bound (a float)
    is returned instead: no step then needs to know its own reach, and most evaluations are
    decided by two reductions without a temporary array.
    """
    if inverse_room is None:
        return 0.0
    bound = max(float(dz.max()), -float(dz.min())) * float(inverse_room.max())
    if bound <= 1:
        return bound
    return (np.abs(dz) * inverse_room).max(axis=(0, -1))


def _real_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, dz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += dz[s, k, :], for S steps of each of K perturbations.

    Shapes: j (K,) column indices of z^l, dz (S, K, n)
    -> h^L (S, K, n, n_L); a bool (K, n), True where some step crossed a kink in row i; and
    the reach (K, n): the largest move of a curved unit (or logit) in row i, in units of its
    room MAX_MOVE max(|z|, 1) (within reach: <= 1).
    """
    L = len(arch.sizes) - 1
    crossed = np.zeros(dz.shape[1:], dtype=bool)
    reach = np.zeros(dz.shape[1:])

    activation = ACTIVATIONS[arch.activations[l - 1]]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_col_new = z_col + dz
    if activation.kink is not None:
        crossed |= _crosses_kink(z_col_new[..., None], z_col[..., None], activation.kink)
    if trace.reach[l] is not None:
        reach = np.maximum(reach, _reach(dz[..., None], trace.reach[l][:, j].T[..., None]))
    h_col_new = activation.phi(z_col_new)  # (S, K, n)

    if l == L:
        h = np.broadcast_to(trace.h[L], (*dz.shape, arch.sizes[L])).copy()
        h[:, np.arange(j.size), :, j] = h_col_new.transpose(1, 0, 2)  # column j_k of h^L
        if trace.reach[L + 1] is not None:
            moved = (h_col_new - trace.h[L][:, j].T)[..., None]
            reach = np.maximum(reach, _reach(moved, trace.reach[L + 1][:, j].T[..., None]))
        return h, crossed, reach

    # z^{l+1} changes by the rank-one term (Delta h^l[:, j]) outer W^{l+1}[j, :]
    delta_h = h_col_new - trace.h[l][:, j].T
    W_next, _ = params[l]  # W^{l+1} is params[l]
    z = delta_h[..., None] * W_next[j][:, None, :]  # (S, K, n, n_{l+1}): the change of z^{l+1}
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            # z^m + (Delta h^{m-1}) W^m equals h^{m-1} W^m + b^m, but rounds only the change:
            # what E(theta + s e_k) and E(theta - s e_k) share cancels in their difference
            # (a stack of small products: one tall product would go to threaded BLAS, which
            # is many times slower at these shapes on a busy machine)
            h -= trace.h[m - 1]
            z = h @ W
        reach = np.maximum(reach, _reach(z, trace.reach[m]))
        z += trace.z[m]
        activation = ACTIVATIONS[arch.activations[m - 1]]
        if activation.kink is not None:
            crossed |= _crosses_kink(z, trace.z[m], activation.kink)
        h = activation.phi(z)
    if trace.reach[L + 1] is not None:
        reach = np.maximum(reach, _reach(h - trace.h[L], trace.reach[L + 1]))
    return h, crossed, reach


def _slope(h_im: np.ndarray, z_im: np.ndarray) -> np.ndarray:
    """|phi'(z)| as the complex step measured it, |Im h| / |Im z| (1 where Im z is 0)."""
    z_abs = np.abs(z_im)
    return np.divide(np.abs(h_im), z_abs, out=np.ones_like(z_abs), where=z_abs > 0)


def _complex_step_outputs(
    arch, params: Params, trace: _Trace, l: int, j: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h^L after z^l[:, j_k] += i COMPLEX_STEP v[k], and an error bound on its imaginary part.

    Each phi is the reference's, evaluated at a complex z. The real parts stay exactly the
    unperturbed z^m and h^m (what Re phi adds is rounding, as h^2 underflows), so that the
    step differentiates at the very point of the forward pass, and z^m + i Im(h^{m-1}) W^m is
    the complex product with a real matmul.

    R^m, in units of eps, bounds the rounding in Im h^m, carried forward to first order:
        R_z^m = (R^{m-1} + |Im h^{m-1}| + sub) |W^m|     (what the sum h^{m-1} W^m may lose)
        R^m   = |phi'| R_z^m + ulps(phi) |Im h^m| + sub
    where sub = _SUBNORMAL, the rounding of an imaginary part that has become subnormal.
    Shapes: j (K,), v (K, n) -> h^L (K, n, n_L) complex, R^L (K, n, n_L).
    """
    L = len(arch.sizes) - 1
    name = arch.activations[l - 1]
    z_col = trace.z[l][:, j].T  # column j_k of z^l, (K, n)
    z_im = COMPLEX_STEP * v
    h_im = ACTIVATIONS[name].phi(z_col + 1j * z_im).imag
    R = ROUNDING[name].complex_step_ulps(z_col) * np.abs(h_im) + _SUBNORMAL

    if l == L:
        h = trace.h[L].astype(complex)[None].repeat(j.size, axis=0)
        h[np.arange(j.size), :, j] += 1j * h_im  # column j_k of h^L
        R_L = np.zeros(h.shape)
        R_L[np.arange(j.size), :, j] = R
        return h, R_L

    # Im z^{l+1} = (Im h^l[:, j]) outer W^{l+1}[j, :], a product: half an ULP
    W_next, _ = params[l]  # W^{l+1} is params[l]
    W_j = W_next[j][:, None, :]  # (K, 1, n_{l+1})
    z_im = h_im[..., None] * W_j
    R_z = R[..., None] * np.abs(W_j) + np.abs(z_im) + _SUBNORMAL
    for m in range(l + 1, L + 1):
        if m > l + 1:
            W, _ = params[m - 1]  # layer m is params[m - 1]
            z_im = h_im @ W
            R_z = (R + np.abs(h_im) + _SUBNORMAL) @ np.abs(W)
        name = arch.activations[m - 1]
        h_im = ACTIVATIONS[name].phi(trace.z[m] + 1j * z_im).imag
        R = (
            _slope(h_im, z_im) * R_z
            + ROUNDING[name].complex_step_ulps(trace.z[m]) * np.abs(h_im)
            + _SUBNORMAL
        )
    return trace.h[L] + 1j * h_im, R


def _chunk_size(arch, l: int, n: int, evaluations: int) -> int:
    """How many perturbations of layer l fit CHUNK_BYTES, each (evaluations, n, width) float64."""
    widest = max(arch.sizes[l:])
    return max(1, CHUNK_BYTES // (evaluations * n * widest * 8))
