"""Elastic, affine and shift distortions of image batches, vectorised in PyTorch.

Every transform takes float images `[B, C, H, W]` (MNIST: `[B, 1, 28, 28]` in [0, 1]) on any
device and returns the same shape there. The random ones take an explicit CPU
`torch.Generator`: every random number is drawn on the CPU with it and then moved to the
input's device, so one seed gives the same draws, and so the same distortions up to float
rounding, on the CPU and on CUDA.

    >>> gen = torch.Generator().manual_seed(0)
    >>> x2 = distort.elastic(x, gen, alpha=34, sigma=4)      # Simard et al. (2003)
    >>> x3 = distort.affine(x, gen, degrees=10, scale=(0.9, 1.1), shear=10, translate=2)
    >>> x4 = distort.shift(x, 1, 0)                          # one pixel down, zero fill
    >>> f = distort.batch_augmenter({"elastic": {"alpha": 34, "sigma": 4}}, "models.m.augment")

How the elastic field is made fast. Simard's field is, per image and per axis, uniform noise
in [-1, 1] per pixel smoothed by a Gaussian of std `sigma` and scaled by `alpha`:
`alpha * G U G^T`, with G the 1-D Gaussian filter as a matrix (scipy's, `mode="reflect"`).
That field is a linear image of 784 independent draws, so it is (by the central limit
theorem) a Gaussian field with covariance `alpha^2/3 * (G G^T ⊗ G G^T)`. Writing
`G G^T = Q diag(lam) Q^T` and `A = Q_k diag(lam_k)^(1/2)`, the field `alpha * A Z A^T` with Z a
k x k matrix of independent N(0, 1/3) draws has the same covariance, up to the eigenmodes
left out; k is the smallest rank that keeps all but 1e-4 of the field's variance (7 for
sigma = 4, where the Gaussian leaves almost nothing above three cycles per image; the full
28 for very small sigma). Each image gets its own Z, so no two fields are shared.

The affine map and the identity are folded into the same two small matrix products: with
`L = [A_h, 1, y]` and `R = [A_w, 1, x]`, the source position of every output pixel, per axis,
is `L Z' R^T`, where Z' holds the elastic draws and, in its last two rows and columns, the
affine coefficients. One bilinear `grid_sample` (zero outside) then does all the sampling.
The image is zero-padded to a power-of-two side first, so that pixel centres are exact in
grid_sample's normalised coordinates: a zero field (alpha = 0) and the identity affine map
give back the input bit for bit. With both transforms, the elastic displacement is added to
the affine source position of each output pixel.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from recipes.errors import UserError

ELASTIC_DEFAULTS = {"alpha": 34.0, "sigma": 4.0}  # Simard, Steinkraus and Platt (2003), MNIST
AFFINE_DEFAULTS = {"degrees": 0.0, "scale": (1.0, 1.0), "shear": 0.0, "translate": 0.0}
VARIANCE_LEFT_OUT = 1e-4   # of the elastic field's variance, by the eigenmodes not drawn
CHUNK_PIXELS = 256 * 784   # images per grid_sample call on the CPU: about 256 MNIST digits
CPU = torch.device("cpu")


# ---- params --------------------------------------------------------------------------

def _number(value, where: str, rule: str, ok: Callable[[float], bool]) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not ok(value)):
        raise UserError(f"{where}: must be {rule}, got {value!r}")
    return float(value)


def _section(cfg, defaults: dict, where: str) -> dict:
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise UserError(f"{where}: expected a mapping like {{{', '.join(defaults)}}}, got {cfg!r}")
    unknown = set(cfg) - set(defaults)
    if unknown:
        raise UserError(f"{where}: unknown key {', '.join(sorted(map(str, unknown)))} "
                        f"(known: {', '.join(defaults)})")
    return {**defaults, **cfg}


def check_elastic(cfg, where: str = "elastic") -> dict:
    """{alpha, sigma} checked, missing keys at Simard's values; UserError names a bad one."""
    cfg = _section(cfg, ELASTIC_DEFAULTS, where)
    return {"alpha": _number(cfg["alpha"], f"{where}.alpha", "a number >= 0", lambda v: v >= 0),
            "sigma": _number(cfg["sigma"], f"{where}.sigma", "a number > 0", lambda v: v > 0)}


def check_affine(cfg, where: str = "affine") -> dict:
    """{degrees, scale, shear, translate} checked; a missing key leaves that part out."""
    cfg = _section(cfg, AFFINE_DEFAULTS, where)
    scale = cfg["scale"]
    if (not isinstance(scale, (list, tuple)) or len(scale) != 2
            or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s)
                   for s in scale)
            or not 0 < scale[0] <= scale[1]):
        raise UserError(f"{where}.scale: must be [lo, hi] with 0 < lo <= hi, got {scale!r}")
    return {
        "degrees": _number(cfg["degrees"], f"{where}.degrees", "a number in [0, 180]",
                           lambda v: 0 <= v <= 180),
        "scale": (float(scale[0]), float(scale[1])),
        "shear": _number(cfg["shear"], f"{where}.shear", "a number of degrees in [0, 90)",
                         lambda v: 0 <= v < 90),
        "translate": _number(cfg["translate"], f"{where}.translate", "a number of pixels >= 0",
                             lambda v: v >= 0),
    }


def check_strokes(cfg, where: str = "strokes") -> dict:
    from recipes.handwriting import strokes
    return strokes.check(cfg, where)


CHECKS = {"elastic": check_elastic, "affine": check_affine, "strokes": check_strokes}


def check(cfg, where: str) -> dict:
    """A distortion config `{elastic: {...}, affine: {...}, strokes: {...}}` (any may be left
    out), checked."""
    if not isinstance(cfg, dict) or not cfg:
        raise UserError(f"{where}: expected a mapping with elastic, affine and/or strokes, got {cfg!r}")
    unknown = set(cfg) - set(CHECKS)
    if unknown:
        raise UserError(f"{where}: unknown key {', '.join(sorted(map(str, unknown)))} "
                        f"(known: {', '.join(CHECKS)})")
    return {key: CHECKS[key](cfg[key], f"{where}.{key}") for key in CHECKS if key in cfg}


# ---- the sampling grid -----------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _modes(size: int, sigma: float) -> np.ndarray:
    """A [size, k] with A A^T = G G^T but for 1e-4 of the 2-D variance (G: scipy's filter)."""
    from scipy.ndimage import gaussian_filter1d
    G = gaussian_filter1d(np.eye(size), sigma, axis=0, mode="reflect")
    lam, Q = np.linalg.eigh(G @ G.T)
    lam, Q = lam[::-1].clip(0), Q[:, ::-1]
    kept = np.cumsum(lam) / lam.sum()
    k = min(size, int(np.searchsorted(kept ** 2, 1 - VARIANCE_LEFT_OUT)) + 1)
    return Q[:, :k] * np.sqrt(lam[:k])


def _padding(size: int) -> tuple[int, int, int]:
    """(before, after, padded side): a power of two with a pixel of zeros at least each side."""
    side = 1 << (size + 1).bit_length()
    return (side - size) // 2, side - size - (side - size) // 2, side


@functools.lru_cache(maxsize=64)
def _basis(size: int, sigma: float | None,
           device: torch.device) -> tuple[torch.Tensor, float, float]:
    """([size, k + 2] = [elastic modes, ones, centred pixel coordinate], scale, offset).

    `scale` turns pixels into grid_sample's normalised units of the padded side, and
    `offset` is where the image centre lies in those units (0 when the padding is even).
    """
    before, _, side = _padding(size)
    coord = np.arange(size) - (size - 1) / 2
    modes = _modes(size, sigma) if sigma is not None else np.zeros((size, 0))
    basis = np.concatenate([modes, np.ones((size, 1)), coord[:, None]], 1)
    offset = (size + 2 * before) / side - 1
    return torch.tensor(basis, dtype=torch.float32, device=device), 2 / side, offset


def _draw(n: int, gen: torch.Generator, H: int, W: int, elastic: dict | None,
          affine: dict | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """All the random numbers of n images, on the CPU, in this order: the elastic normals
    [n, 2 (x, y), kh, kw], then the affine uniforms [n, 5] in [-1, 1) (float64)."""
    normals = uniforms = None
    if elastic:
        kh = _basis(H, elastic["sigma"], CPU)[0].shape[1] - 2
        kw = _basis(W, elastic["sigma"], CPU)[0].shape[1] - 2
        normals = torch.randn(n, 2, kh, kw, generator=gen)
    if affine:
        uniforms = torch.rand(n, 5, generator=gen, dtype=torch.float64).mul_(2).sub_(1)
    return normals, uniforms


def _coefficients(n: int, normals: torch.Tensor | None, uniforms: torch.Tensor | None,
                  elastic: dict | None, affine: dict | None, H: int, W: int,
                  device: torch.device) -> torch.Tensor:
    """Z' [n, 2 (x, y), kh + 2, kw + 2]: the source position of every output pixel, per axis,
    in grid_sample's units, is `L Z' R^T` (see the module docstring)."""
    sigma = elastic["sigma"] if elastic else None
    (L, sy, oy), (R, sx, ox) = _basis(H, sigma, device), _basis(W, sigma, device)
    kh, kw = L.shape[1] - 2, R.shape[1] - 2
    Z = torch.zeros(n, 2, kh + 2, kw + 2, device=device)
    if normals is not None:  # N(0, 1/3) per mode: the variance of uniform noise in [-1, 1]
        for axis, scale in enumerate((sx, sy)):
            Z[:, axis, :kh, :kw] = normals[:, axis] * (elastic["alpha"] / math.sqrt(3) * scale)
    # an output pixel at (x, y) from the centre samples the input at M (x, y) + t, in pixels
    if uniforms is None:
        m, t = ((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0)
    else:
        u = uniforms
        # what happens to the digit: scaled by s, sheared along x, rotated, then moved;
        # M is the inverse of s * rotation @ shear, written out
        angle = torch.deg2rad(u[:, 0] * affine["degrees"])
        lo, hi = affine["scale"]
        s = lo + (u[:, 1] + 1) / 2 * (hi - lo)
        shear = torch.tan(torch.deg2rad(u[:, 2] * affine["shear"]))
        c, si = torch.cos(angle) / s, torch.sin(angle) / s
        m = ((c + si * shear, si - c * shear), (-si, c))
        move = u[:, 3:] * affine["translate"]
        t = tuple(-(row[0] * move[:, 0] + row[1] * move[:, 1]) for row in m)
    for axis, (scale, offset) in enumerate(((sx, ox), (sy, oy))):
        Z[:, axis, kh, kw + 1] = m[axis][0] * scale      # times x (ones down the rows)
        Z[:, axis, kh + 1, kw] = m[axis][1] * scale      # times y (ones along the columns)
        Z[:, axis, kh, kw] = t[axis] * scale + offset    # a constant
    return Z


def _grid(Z: torch.Tensor, L: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """grid_sample's [n, H, W, 2] (a strided view) from Z' [n, 2, kh + 2, kw + 2]."""
    n, _, a, b = Z.shape
    T = (Z.reshape(-1, b) @ R.T).view(n * 2, a, R.shape[0])     # [n * 2, kh + 2, W]
    return torch.matmul(L, T).view(n, 2, L.shape[0], R.shape[0]).permute(0, 2, 3, 1)


def _transform(x: torch.Tensor, gen: torch.Generator, elastic: dict | None,
               affine: dict | None) -> torch.Tensor:
    if x.dim() != 4 or not x.is_floating_point():
        raise TypeError(f"expected float images [B, C, H, W], got {x.dtype} {tuple(x.shape)}")
    n, _, H, W = x.shape
    sigma = elastic["sigma"] if elastic else None
    L, R = _basis(H, sigma, x.device)[0], _basis(W, sigma, x.device)[0]
    normals, uniforms = (d.to(x.device) if d is not None else None
                         for d in _draw(n, gen, H, W, elastic, affine))
    top, bottom, _ = _padding(H)
    left, right, _ = _padding(W)
    src = x if x.dtype == torch.float32 else x.float()
    out = torch.empty_like(src)

    def chunk(i: int, step: int) -> None:
        part = slice(i, i + step)
        Z = _coefficients(len(src[part]), normals[part] if normals is not None else None,
                          uniforms[part] if uniforms is not None else None,
                          elastic, affine, H, W, x.device)
        padded = F.pad(src[part], (left, right, top, bottom))
        out[part] = F.grid_sample(padded, _grid(Z, L, R), mode="bilinear",
                                  padding_mode="zeros", align_corners=False)

    if x.is_cuda:
        chunk(0, n)
    else:
        _each_chunk(chunk, n, max(1, CHUNK_PIXELS // (H * W)))
    return out if x.dtype == torch.float32 else out.to(x.dtype)


def _each_chunk(work: Callable[[int, int], None], n: int, step: int) -> None:
    """work(start, step) over the chunks, a chunk to each of torch's CPU threads in turn.

    Each chunk runs on one thread from start to end: no barrier per operation between the
    threads, which on a busy machine (a core taken by another process) costs far more
    than the work, and each chunk's data stays in its core's cache.
    """
    starts = range(0, n, step)
    threads = torch.get_num_threads()
    if threads < 2 or len(starts) < 2:
        for i in starts:
            work(i, step)
        return

    def one(i: int) -> None:
        torch.set_num_threads(1)  # this thread's OpenMP and MKL
        work(i, step)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, starts))
    finally:
        torch.set_num_threads(threads)


def field(n: int, gen: torch.Generator, alpha: float = 34.0, sigma: float = 4.0,
          size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """The elastic displacements [n, 2 (dx, dy), H, W] in pixels that `elastic` would draw."""
    cfg = check_elastic({"alpha": alpha, "sigma": sigma})
    (H, W), sigma = size, cfg["sigma"]
    (L, sy, _), (R, sx, _) = _basis(H, sigma, CPU), _basis(W, sigma, CPU)
    normals, _ = _draw(n, gen, H, W, cfg, None)
    moved = _grid(_coefficients(n, normals, None, cfg, None, H, W, CPU), L, R)
    still = _grid(_coefficients(1, None, None, None, None, H, W, CPU),
                  _basis(H, None, CPU)[0], _basis(W, None, CPU)[0])
    return ((moved - still) / torch.tensor([sx, sy])).permute(0, 3, 1, 2)


# ---- the transforms --------------------------------------------------------------------

def distort(x: torch.Tensor, gen: torch.Generator, elastic: dict | None = None,
            affine: dict | None = None) -> torch.Tensor:
    """Elastic and/or affine distortion in one bilinear sampling; configs as `check` takes."""
    elastic = check_elastic(elastic) if elastic is not None else None
    affine = check_affine(affine) if affine is not None else None
    return _transform(x, gen, elastic, affine)


def elastic(x: torch.Tensor, gen: torch.Generator, alpha: float = 34.0,
            sigma: float = 4.0) -> torch.Tensor:
    """Simard et al. (2003): each image moved by its own smoothed random field (see above)."""
    return distort(x, gen, elastic={"alpha": alpha, "sigma": sigma})


def affine(x: torch.Tensor, gen: torch.Generator, degrees: float = 0.0,
           scale: tuple[float, float] = (1.0, 1.0), shear: float = 0.0,
           translate: float = 0.0) -> torch.Tensor:
    """Per image a rotation in ±degrees, a scale in [lo, hi], an x-shear in ±shear degrees
    and a move in ±translate pixels along each axis, about the image centre."""
    return distort(x, gen, affine={"degrees": degrees, "scale": scale, "shear": shear,
                                   "translate": translate})


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Every pixel moved by exactly (dy, dx) whole pixels (down and right positive), zero fill.

    Works on any dtype (uint8 too); Nielsen's expand_mnist takes (1, 0), (-1, 0), (0, 1), (0, -1).
    """
    for name, v in (("dy", dy), ("dx", dx)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise UserError(f"shift.{name}: must be a whole number of pixels, got {v!r}")
    H, W = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dy) < H and abs(dx) < W:
        out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            x[..., max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


Augmenter = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def batch_augmenter(cfg: dict, where: str) -> Augmenter:
    """`f(xb, gen) -> xb`: fresh distortions of every training batch (see recipes.nets).

    `cfg` is `{elastic: {alpha, sigma}, affine: {degrees, scale, shear, translate},
    strokes: {thicker, thinner}}`, any part optional; a bad value raises UserError naming
    `where.<part>.<key>`. `strokes` (recipes.handwriting.strokes: a bolder or finer pen)
    comes after the elastic/affine moves, drawn from the same generator.
    """
    cfg = check(cfg, where)
    moves = cfg.get("elastic") or cfg.get("affine")
    vary = None
    if "strokes" in cfg:
        from recipes.handwriting import strokes
        vary = strokes.augmenter(cfg["strokes"], f"{where}.strokes")

    def augment(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if moves:
            xb = _transform(xb, gen, cfg.get("elastic"), cfg.get("affine"))
        return vary(xb, gen) if vary is not None else xb

    return augment
