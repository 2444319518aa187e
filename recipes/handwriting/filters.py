"""Some of scipy.ndimage's filters, the same answers in less time, for the reader's small images.

`median(a, k)` is `ndi.median_filter(a, size=k, mode="nearest")` exactly (a median is one of
the window's values, and these are picked the same way): a window that is at least half the
image's lowest (or highest) value has that value as its median, counted with box sums, so a
drawing's plain paper costs nothing; the other windows are partitioned by numpy, which is
itself faster than scipy's rank filter on the windows the reader uses (5x5, 17x17).

`gaussian(a, sigma)` is `ndi.gaussian_filter(a, sigma, mode="nearest")` for a float32 image:
each axis is one matrix product in float64 (the same weights, the edge repeated as scipy
does), rounded to float32 after each axis as scipy rounds; the sums are added in another
order, so an element can differ by one float32 rounding step where the exact sum lies on a
rounding boundary (tests/test_handwriting.py bounds it). For the wide kernels of the paper's
light (a radius of half the image) a product is several times faster than scipy's loop.

`dilate`, `erode` and `fill_holes` are `ndi.binary_dilation`, `ndi.binary_erosion` and
`ndi.binary_fill_holes` with their default cross (4-neighbour) structure and border value 0,
exactly (whole-array shifts; holes found as the background components that miss the border),
for a 2-D mask. tests/test_filters.py pins every one of these against scipy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage as ndi


def median(a: np.ndarray, k: int) -> np.ndarray:
    """== scipy.ndimage.median_filter(a, size=k, mode="nearest") for a 2-D array, k odd."""
    if k % 2 != 1 or a.ndim != 2:
        raise ValueError("median: a 2-D array and an odd window size")
    r, n = k // 2, k * k
    need = n // 2 + 1  # the median is the (n//2)-th smallest: need this many at an extreme
    p = np.pad(a, r, mode="edge")  # scipy's "nearest"
    out = np.empty_like(a)
    todo = np.ones(a.shape, bool)
    for v in (a.min(), a.max()):
        c = np.zeros((p.shape[0] + 1, p.shape[1] + 1), np.int32)
        np.cumsum(np.cumsum(p == v, 0, dtype=np.int32), 1, out=c[1:, 1:])
        at = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) >= need
        out[at] = v
        todo &= ~at
    if todo.any():
        w = sliding_window_view(p, (k, k))[todo].reshape(-1, n)
        out[todo] = np.partition(w, n // 2, axis=1)[:, n // 2]
    return out


@lru_cache(maxsize=64)
def _matrix(size: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """[size, size] float64: row i holds the weights that scipy's gaussian_filter1d gives the
    pixels of a line for its pixel i, the pixels beyond an end folded onto that end."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    w = w / w.sum()
    src = np.clip(np.arange(size)[:, None] + x[None, :], 0, size - 1)
    m = np.zeros((size, size))
    np.add.at(m, (np.repeat(np.arange(size), len(x)), src.ravel()), np.tile(w, size))
    m.setflags(write=False)
    return m


def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(a, sigma, mode="nearest") for a 2-D float32 array."""
    a = np.asarray(a, np.float32)
    rows = (_matrix(a.shape[0], float(sigma)) @ a).astype(np.float32)  # axis 0 first, as scipy
    return (rows @ _matrix(a.shape[1], float(sigma)).T).astype(np.float32)


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """== ndi.binary_dilation(mask, iterations=iterations) for a 2-D mask (iterations >= 1)."""
    out = np.array(mask, bool)
    if out.ndim != 2 or iterations < 1:
        raise ValueError("dilate: a 2-D mask and at least one iteration")
    for _ in range(iterations):
        src = out.copy()
        out[1:] |= src[:-1]
        out[:-1] |= src[1:]
        out[:, 1:] |= src[:, :-1]
        out[:, :-1] |= src[:, 1:]
    return out


def erode(mask: np.ndarray) -> np.ndarray:
    """== ndi.binary_erosion(mask) (border value 0) for a 2-D mask."""
    m = np.asarray(mask, bool)
    if m.ndim != 2:
        raise ValueError("erode: a 2-D mask")
    out = m.copy()
    out[1:] &= m[:-1]
    out[:-1] &= m[1:]
    out[:, 1:] &= m[:, :-1]
    out[:, :-1] &= m[:, 1:]
    out[[0, -1], :] = False  # beyond the border is 0: a border pixel never survives
    out[:, [0, -1]] = False
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """== ndi.binary_fill_holes(mask) for a 2-D mask: the background components (4-connected)
    that do not reach the border are holes."""
    m = np.asarray(mask, bool)
    if m.ndim != 2:
        raise ValueError("fill_holes: a 2-D mask")
    lab, n = ndi.label(~m)
    if n == 0:
        return m.copy()
    outside = np.zeros(n + 1, bool)
    outside[lab[[0, -1], :]] = True
    outside[lab[:, [0, -1]]] = True
    outside[0] = True  # the mask itself
    return m | ~outside[lab]
