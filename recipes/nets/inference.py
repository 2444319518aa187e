"""The one inference path of every net: evaluate, report, the reader and the server use it.

Where the time went (network3_2conv, 10,000 digits, 2 threads): the ReLU and the max-pool
after each convolution, memory-bound passes over the full-size maps, took half of it, and
the weights were moved and re-laid on every call. So a net is prepared once: eval mode,
channels-last, and an activation followed by a max-pool swapped to pool first, which is
exact (max-pooling commutes with any non-decreasing function) and runs the activation on a
quarter of the values; batches of 1024 keep the maps in cache; bf16 autocast where the
precision says so.
"""

from __future__ import annotations

import torch
from torch import nn

from recipes import tables
from recipes.nets.layers import INPUT_SHAPE, N_CLASSES, has_conv
from recipes.nets.precision import autocast

BATCH = 1024
MONOTONE = (nn.ReLU, nn.Sigmoid, nn.Tanh)


def prepare(net: nn.Module, device: torch.device) -> nn.Module:
    """A copy of `net` for inference on `device` (the trained module is left as it is)."""
    mods, i = list(net), 0
    out = []
    while i < len(mods):
        if i + 1 < len(mods) and isinstance(mods[i], MONOTONE) and isinstance(mods[i + 1], nn.MaxPool2d):
            out += [mods[i + 1], mods[i]]
            i += 2
        else:
            out.append(mods[i])
            i += 1
    fast = nn.Sequential(*out).to(device).eval()
    return fast.to(memory_format=torch.channels_last) if has_conv(fast) else fast


@torch.inference_mode()
def logits(net: nn.Module, X: torch.Tensor, device: torch.device, precision: str = "fp32") -> torch.Tensor:
    """float32 logits [N, 10] of uint8 pixels [N, 784] (any device) through a prepared net."""
    conv = has_conv(net)
    out = []
    for xb in X.split(BATCH):
        xb = tables.to_unit(xb.to(device, non_blocking=True)).view(-1, *INPUT_SHAPE)
        if conv:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            out.append(net(xb).float())
    return torch.cat(out) if out else torch.empty(0, N_CLASSES, device=device)
