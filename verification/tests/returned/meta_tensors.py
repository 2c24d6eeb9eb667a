"""Gradients as torch tensors on the meta device: no data to copy to the CPU (as a CUDA tensor on
a machine without the GPU's runtime)."""

import torch


def gradients(arch, params, x, y):
    return [
        (torch.empty(W.shape, device="meta"), torch.empty(b.shape, device="meta"))
        for W, b in params
    ]
