"""Greedy layer-wise RBM pretraining (CD-k) of a net's leading sigmoid dense layers: the DBN of
Hinton and Salakhutdinov (2006) and nolearn's DBN example."""

from __future__ import annotations

import sys

import torch
from torch import nn

from recipes import tables
from recipes.errors import UserError


def rbm_pretrain(net: nn.Sequential, X: torch.Tensor, cfg: dict, device, name: str) -> None:
    """Greedy layer-wise RBM pretraining (CD-k) of the leading sigmoid dense layers.

    Each RBM's weights and hidden biases become the layer's; its input is the previous
    layer's hidden probabilities, as in Hinton and Salakhutdinov (2006) and nolearn's DBN.
    """
    epochs, lr = int(cfg.get("epochs", 5)), float(cfg.get("lr", 0.05))
    bs, k = int(cfg.get("batch_size", 64)), int(cfg.get("k", 1))
    g = torch.Generator(device=device).manual_seed(int(cfg.get("seed", 0)))
    stack = [m for m in net if not isinstance(m, nn.Flatten)]
    layers = []
    for a, b in zip(stack, stack[1:] + [None]):
        if isinstance(a, nn.Linear) and isinstance(b, nn.Sigmoid):
            layers.append(a)
        elif isinstance(a, nn.Linear):
            break
    if not layers:
        raise UserError(f"{name}: pretrain: needs sigmoid dense layers first in the net")
    v_data = tables.to_unit(X.to(device)).view(len(X), -1)
    for li, lin in enumerate(layers):
        W = lin.weight.data  # [hidden, visible]
        b_h = lin.bias.data
        b_v = torch.zeros(W.shape[1], device=device)
        for epoch in range(epochs):
            perm = torch.randperm(len(v_data), generator=g, device=device)
            err = 0.0
            for i in range(0, len(v_data), bs):
                v0 = v_data[perm[i:i + bs]]
                h0 = torch.sigmoid(v0 @ W.T + b_h)
                hk, vk = h0, v0
                for _ in range(k):
                    hs = torch.bernoulli(hk, generator=g)
                    vk = torch.sigmoid(hs @ W + b_v)
                    hk = torch.sigmoid(vk @ W.T + b_h)
                n = len(v0)
                W += lr * (h0.T @ v0 - hk.T @ vk) / n
                b_v += lr * (v0 - vk).mean(0)
                b_h += lr * (h0 - hk).mean(0)
                err += ((v0 - vk) ** 2).sum().item()
            print(f"{name}: RBM {li + 1}/{len(layers)} epoch {epoch + 1}/{epochs}: "
                  f"reconstruction error {err / len(v_data):.2f}", file=sys.stderr)
        v_data = torch.sigmoid(v_data @ W.T + b_h)

