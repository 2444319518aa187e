"""The one inference path of every net: evaluate, report, the reader, the server and the
training loop's validation all use it.

Where the time went (network3_2conv, 10,000 digits, AMD EPYC and Intel Xeon, 2 threads):
torch's `MaxPool2d` on channels-last maps took a quarter to two fifths of it (3-7x slower
than two elementwise maxima over contiguous halves, which is what `Pool2x2` does, exactly);
the ReLU and batchnorm before a pool ran on four times the values they need; batches of
1024 and more spill the maps out of the 1-2 MB of L2 cache per core; the weights were
re-laid on every call. So a net is prepared once:

- a copy in eval mode, channels-last;
- a batchnorm right after a conv or dense layer folded into its weights;
- a max-pool moved ahead of the per-channel non-decreasing maps before it (ReLU, sigmoid,
  tanh, a batchnorm whose scales are all positive), which is exact: max-pooling commutes
  with them, and they then run on a quarter of the values;
- 2x2 max-pools as `Pool2x2`;
- batches of `BATCH` images for conv nets (their maps stay in cache) and `DENSE_BATCH` for
  the others (a few KB per image: larger matrix products are faster), bf16 autocast where
  the precision says so.

Test-time augmentation (`tta: 4 | 8`, chosen on validation like any setting): the
probabilities averaged over the image and its copies moved by one pixel (4: up, down, left,
right; 8: and the diagonals).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from recipes import tables
from recipes.nets.layers import INPUT_SHAPE, N_CLASSES, has_conv
from recipes.nets.precision import autocast

BATCH = 256
DENSE_BATCH = 4096
MONOTONE = (nn.ReLU, nn.Sigmoid, nn.Tanh)
# (rows, columns) each view of `tta: n` moves an image by, besides the image itself
SHIFTS = {0: (), 4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
          8: ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))}


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Images [N, C, H, W] moved dy rows down and dx columns right, zeros shifted in (padding
    and slicing: the ONNX exporter traces it)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    return padded[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]


class Pool2x2(nn.Module):
    """`MaxPool2d(2)` (floor mode) as two elementwise maxima over contiguous halves of the
    channels-last map: rows in pairs, then columns in pairs. Same values, a few times faster
    on CPUs than torch's pooling kernel for these small channel counts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        h2, w2 = h // 2, w // 2
        v = x[:, :, : 2 * h2, : 2 * w2].permute(0, 2, 3, 1).reshape(n, h2, 2 * 2 * w2, c)
        rows = torch.maximum(v[:, :, : 2 * w2], v[:, :, 2 * w2:])       # [n, h2, 2*w2, c]
        pairs = rows.reshape(n, h2, w2, 2 * c)
        return torch.maximum(pairs[..., :c], pairs[..., c:]).permute(0, 3, 1, 2)


def _plain_max_pool(m: nn.Module) -> bool:
    def two(v):
        return v in (2, (2, 2))
    return (isinstance(m, nn.MaxPool2d) and two(m.kernel_size) and two(m.stride or m.kernel_size)
            and m.padding in (0, (0, 0)) and m.dilation in (1, (1, 1)) and not m.ceil_mode
            and not m.return_indices)


def _monotone(m: nn.Module) -> bool:
    """A per-channel non-decreasing map: max-pooling commutes with it."""
    if isinstance(m, MONOTONE):
        return True
    if isinstance(m, nn.BatchNorm2d) and not m.training and m.track_running_stats:
        return bool((_bn_scale(m) > 0).all())
    return False


def _bn_scale(bn) -> torch.Tensor:
    scale = torch.rsqrt(bn.running_var + bn.eps)
    return scale * bn.weight if bn.affine else scale


@torch.no_grad()
def _fold(layer: nn.Module, bn) -> nn.Module:
    """`bn(layer(x))` as one conv or dense layer (eval mode: the running statistics)."""
    scale = _bn_scale(bn)
    shift = (bn.bias if bn.affine else 0) - bn.running_mean * scale
    w = layer.weight * scale.view(-1, *([1] * (layer.weight.dim() - 1)))
    b = (layer.bias * scale if layer.bias is not None else 0) + shift
    layer.weight.copy_(w)
    if layer.bias is None:
        layer.bias = nn.Parameter(b.clone())
    else:
        layer.bias.copy_(b)
    return layer


def prepare(net: nn.Module, device: torch.device) -> nn.Module:
    """A copy of `net` for inference on `device` (the trained module is left as it is)."""
    mods = list(copy.deepcopy(net).eval())
    out: list[nn.Module] = []
    for m in mods:
        prev = out[-1] if out else None
        if (isinstance(m, nn.BatchNorm2d) and isinstance(prev, nn.Conv2d)
                or isinstance(m, nn.BatchNorm1d) and isinstance(prev, nn.Linear)) and m.track_running_stats:
            out[-1] = _fold(prev, m)
            continue
        if _plain_max_pool(m):
            i = len(out)
            while i > 0 and _monotone(out[i - 1]):  # pool first, the maps on a quarter of it
                i -= 1
            out.insert(i, Pool2x2())
            continue
        out.append(m)
    fast = nn.Sequential(*out).to(device).eval()
    return fast.to(memory_format=torch.channels_last) if has_conv(fast) else fast


@torch.inference_mode()
def logits(net: nn.Module, X: torch.Tensor, device: torch.device, precision: str = "fp32") -> torch.Tensor:
    """float32 logits [N, 10] of uint8 pixels [N, 784] (any device) through a prepared net."""
    conv = has_conv(net)
    out = []
    for xb in X.split(BATCH if conv else DENSE_BATCH):
        xb = tables.to_unit(xb.to(device, non_blocking=True)).view(-1, *INPUT_SHAPE)
        if conv:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            out.append(net(xb).float())
    return torch.cat(out) if out else torch.empty(0, N_CLASSES, device=device)


def proba(net: nn.Module, X: torch.Tensor, device: torch.device, precision: str = "fp32",
          tta: int = 0) -> torch.Tensor:
    """Probabilities [N, 10] of uint8 pixels [N, 784] through a prepared net, averaged over
    the image and its `tta` one-pixel moves."""
    return averaged(lambda images: logits(net, images.reshape(len(X), -1), device, precision),
                    X.view(-1, *INPUT_SHAPE), tta)


def averaged(logits_of, images: torch.Tensor, tta: int = 0) -> torch.Tensor:
    """The softmax of `logits_of(images)` [N, 1, H, W], averaged with that of the images'
    `tta` one-pixel moves (the ONNX export's module calls it too)."""
    p = F.softmax(logits_of(images), 1)
    for dy, dx in SHIFTS[tta]:
        p = p + F.softmax(logits_of(shift(images, dy, dx)), 1)
    return p / (1 + len(SHIFTS[tta]))
