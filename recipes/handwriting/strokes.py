"""Stroke-width variation of image batches: a pen thicker or thinner than MNIST's.

MNIST's strokes are 1.9 to 3.6 pixels wide (its middle 80%); a photo's digit, brought to
MNIST's size, keeps its pen's width relative to its height within limits (see
`ink.STROKE_SLACK`, `ink.STROKE_MAX`): up to about 4.4 pixels for a marker. So each
training image gets, with the given probabilities, a grey-scale dilation (a max over a
2x2 or 3x3 window: a bolder pen) or erosion (a min over 2x2: a finer one), batched as
torch max-pooling. A 2x2 window moves the image by half a pixel; the affine/elastic
moves dwarf that.

    >>> vary = strokes.augmenter({"thicker": 0.3, "thinner": 0.2})
    >>> xb = vary(xb, gen)        # float [B, 1, 28, 28] in 0..1
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from recipes.errors import UserError

DEFAULTS = {"thicker": 0.3, "thinner": 0.15}  # chosen on the photo benchmark (see docs)


def dilate(x: torch.Tensor, k: int) -> torch.Tensor:
    """Grey-scale dilation by a k x k square (k = 2 or 3), same shape."""
    pad = (k // 2, (k - 1) // 2, k // 2, (k - 1) // 2)  # left, right, top, bottom
    return F.max_pool2d(F.pad(x, pad), k, stride=1)


def erode(x: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Grey-scale erosion by a k x k square, same shape."""
    return -dilate(-x, k)


def check(cfg, where: str = "strokes") -> dict:
    if cfg is None or cfg is True:
        cfg = {}
    if not isinstance(cfg, dict) or set(cfg) - set(DEFAULTS):
        raise UserError(f"{where}: expected {{thicker: P, thinner: P}}, got {cfg!r}")
    out = {**DEFAULTS, **cfg}
    for key, v in out.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise UserError(f"{where}.{key}: must be a probability in 0..1, got {v!r}")
    if out["thicker"] + out["thinner"] > 1:
        raise UserError(f"{where}: thicker + thinner must be at most 1, got {out}")
    return out


def vary(x: torch.Tensor, gen: torch.Generator, thicker: float = DEFAULTS["thicker"],
         thinner: float = DEFAULTS["thinner"]) -> torch.Tensor:
    """Each image of `x` [B, C, H, W] bolder, finer or unchanged, drawn with `gen` (CPU)."""
    u = torch.rand(len(x), generator=gen).to(x.device).view(-1, 1, 1, 1)
    bold = torch.where(u < thicker / 2, dilate(x, 3), dilate(x, 2))  # half of them 3x3
    out = torch.where(u < thicker, bold, x)
    return torch.where((u >= thicker) & (u < thicker + thinner), erode(x, 2), out)


def augmenter(cfg=None, where: str = "strokes"):
    """`f(xb, gen) -> xb` for a batch augmenter's chain (after the affine/elastic moves)."""
    cfg = check(cfg, where)
    return lambda xb, gen: vary(xb, gen, **cfg)
