"""A photo's ink, and one digit's ink made into an MNIST input.

`load_gray` reads a photo (a path or an array; EXIF orientation, alpha laid on white;
the first frame of an animation, with a notice), `working_copy` brings it to a size
whose masks come out smooth, `find_sheet` crops a sheet lying on a darker desk,
`drawing_copy` reduces a drawing with thick strokes (the page's pad) to a size that is
enough for them, `find_ink` divides out the paper's own light (shadows, vignetting, colour casts go)
and finds the ink's polarity, `threshold` cuts it with hysteresis. `to_mnist` makes one
digit's ink into a 28x28 input the way MNIST's were made: strokes brought to MNIST's
width for the digit's height, the longer side scaled to 20 pixels with anti-aliasing,
the centre of mass at (14, 14).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage as ndi

from recipes.errors import UserError
from recipes.handwriting import filters

SIDE = 28            # MNIST's field
BOX = 20             # the longer side of a digit in it
WORK_MAX = 1000      # working copy: a larger photo is scaled down to this longer side...
WORK_MIN = 256       # ...a smaller crop scaled up to this one, so that masks come out smooth
BG_SIDE = 128        # the paper is estimated at this resolution (light varies slowly)...
BG_COARSE = 48       # ...from a first median at this one...
BG_SMOOTH = 10       # ...then the paper round the ink, smoothed over 1/this of the page,
OPEN_SIDE = 0.1      # ...and never below its grey opening over this fraction of the page...
SHARP_EDGE = 0.05    # ...unless that opening has a sharp edge (a solid object, not a shadow)
OFF_PAPER = 0.3      # light this much darker than the paper's...
OFF_PAPER_AREA = 0.01  # ...over this much of the photo, at its edge: a desk, a phone, not paper...
OFF_PAPER_ALONG = 0.25  # ...or along this fraction of the frame's shorter side (a thin strip of desk)
PAPER_MOST = 0.5     # polarity: the paper judged without what is off it, when that is under this share
SHEET_RING = 0.9     # a border this much darker than the rest: a sheet lying on a desk...
SHEET_MIN = 0.2      # ...when the light region covers this much of the photo...
SHEET_SOLID = 0.85   # ...and this much of its own box (a page, not a light digit)
SHEET_MARGIN = 0.02  # the sheet's edge trimmed by this fraction of its size
FLAT_PAPER = 0.5     # this share of the image exactly one tone...
FLAT_NEAR = 0.1      # ...and under this share near it (within 2 MIN_INK): paper made on a computer
DRAWN_STROKE = 8     # a drawing is reduced (block means) until its strokes are about this wide...
DRAWN_MIN = 128      # ...its longer side never below this (chosen on drawn MNIST training digits)
MIN_CONTRAST = 0.04  # an image whose tones span less than this (of 0..1) is blank
MIN_INK = 0.08       # ink darker than its paper by less than this fraction is no ink
NOISE_SIGMAS = 4.0   # the threshold stays this many noise deviations above the paper
STROKE = 0.125       # MNIST's median stroke width over digit height (2.5 px of 20)
STROKE_SLACK = 0.8   # thicken strokes thinner than this fraction of STROKE
STROKE_MAX = 0.22    # thin strokes thicker than this (a marker on a small digit) down to it
UPSAMPLE = 80        # a digit shorter than this is upsampled before its mask is cut
SQUARE = 1.0         # `square`: a part squeezed to at most this width per height


# ---- reading ---------------------------------------------------------------------------

def load_gray(source) -> np.ndarray:
    """float32 [H, W] in 0..1 from a path or an array (gray, RGB or RGBA; uint8 or float)."""
    if isinstance(source, np.ndarray):
        return _array_gray(source)
    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"expected an image path or a numpy array, got {type(source).__name__}")
    path = Path(source)
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # a GIF or multi-page TIFF: one photo is read, and the user told
                print(f"notice: {path}: {frames} frames, reading the first", file=sys.stderr)
            im.draft(im.mode, (WORK_MAX, WORK_MAX))  # a big JPEG decoded at a fraction of its size
            im.load()
            im = _shrink(ImageOps.exif_transpose(im))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise UserError(f"{path}: cannot read (permission denied)") from None
    except UnidentifiedImageError:
        raise UserError(f"{path}: not an image (no format that Pillow reads)") from None
    except Image.DecompressionBombError as e:
        raise UserError(f"{path}: too large to read safely ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path}: a broken or truncated image ({e})") from None
    return _check_size(_pil_gray(im), str(path))


def _shrink(im: Image.Image) -> Image.Image:
    """A huge photo reduced by a whole factor first, so that it is never held as floats."""
    factor = max(im.size) // (2 * WORK_MAX)
    if factor < 2:
        return im
    if im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        im = im.convert("RGBA" if "transparency" in im.info or "A" in im.mode else "RGB")
    return im.reduce(factor)


def _pil_gray(im: Image.Image) -> np.ndarray:
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, np.float32)
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), np.float32) / 255
        return _array_gray(rgba)
    return np.asarray(im.convert("RGB"), np.float32) @ np.float32([0.299, 0.587, 0.114]) / 255


def _array_gray(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif a.dtype.kind not in "uif":
        raise UserError(f"expected an array of numbers, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if a.size and a.max() > 1:
        a = a / 255
    if a.ndim == 3 and a.shape[2] in (3, 4):
        if a.shape[2] == 4:  # laid on white paper, as a transparent drawing is shown
            alpha = a[..., 3:]
            a = a[..., :3] * alpha + (1 - alpha)
        a = a @ np.float32([0.299, 0.587, 0.114])
    elif a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise UserError(f"expected a 2-D gray or an RGB(A) image array, got shape {a.shape}")
    return _check_size(np.clip(a, 0, 1), "<array>")


def _check_size(a: np.ndarray, name: str) -> np.ndarray:
    if min(a.shape) < 8:
        raise UserError(f"{name}: {a.shape[1]}x{a.shape[0]} pixels is too small to hold a digit")
    return a


def resize(a: np.ndarray, shape: tuple[int, int], resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """A float image resampled to `shape` (rows, cols); anti-aliased when it shrinks."""
    if a.shape == tuple(shape):
        return a.astype(np.float32, copy=False)
    img = Image.fromarray(np.ascontiguousarray(a, np.float32))
    return np.asarray(img.resize((int(shape[1]), int(shape[0])), resample), np.float32)


def working_copy(gray: np.ndarray) -> np.ndarray:
    long = max(gray.shape)
    scale = min(1.0, WORK_MAX / long) if long > WORK_MIN else WORK_MIN / long
    if scale == 1.0:
        return gray
    shape = tuple(max(1, round(s * scale)) for s in gray.shape)
    return resize(gray, shape, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)


def _flat(d: np.ndarray) -> bool:
    """`d`, each pixel's distance from the paper's tone: half the image that tone exactly and
    little near it, which no photographed paper is (its grain and shadows put over half of it
    near its tone; a blown-out photo's shadow too): paper made on a computer."""
    exact = np.count_nonzero(d == 0)
    return exact >= FLAT_PAPER * d.size and np.count_nonzero(d < 2 * MIN_INK) - exact < FLAT_NEAR * d.size


def drawing_copy(gray: np.ndarray) -> tuple[np.ndarray, float | None]:
    """(gray, paper): a drawing (flat paper, see `_flat`) whose strokes are over twice
    DRAWN_STROKE wide reduced by block means (an integer factor, its longer side kept at
    DRAWN_MIN or more), with its paper's tone, which the means keep exact; anything else as
    it is, with None. The page's pad draws MNIST-thick strokes, 25 px on 280 px: read at half
    that size, a drawn digit takes about 0.7x the time and reads as well (997 against 998 of
    1,024 drawn MNIST training digits at 280 px, 997 against 996 at 560 px)."""
    paper = float(np.median(gray))
    d = np.abs(gray - paper)
    if not _flat(d):
        return gray, None
    mask = d > d.max() / 4  # the stroke with its soft edge, as the threshold will see it
    perimeter = np.count_nonzero(mask & ~filters.erode(mask))
    stroke = 2 * np.count_nonzero(mask) / max(perimeter, 1)  # a band's width from its area and edge
    k = min(int(stroke / DRAWN_STROKE), max(gray.shape) // DRAWN_MIN)
    if k < 2:
        return gray, paper
    H, W = gray.shape
    padded = np.pad(gray, ((0, -H % k), (0, -W % k)), constant_values=paper)
    # the k*k pixels of each block added in float64 (exactly: they are float32), then divided:
    # a block of one tone averages to that tone exactly, so the paper stays flat
    total = np.zeros((padded.shape[0] // k, padded.shape[1] // k))
    for i in range(k):
        for j in range(k):
            total += padded[i::k, j::k]
    return (total / (k * k)).astype(np.float32), paper


# ---- ink against the paper -------------------------------------------------------------

def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance."""
    hist, edges = histogram(values, bins)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * mids)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][np.argmax(between)])


def histogram(values: np.ndarray, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """== np.histogram(values, bins) for a float array, faster when most values are its
    lowest or highest (a drawing's paper, ink clipped at 0): those are counted, not binned.

    numpy bins each value on its own from the range (lowest, highest) and the edges that
    range gives, so binning the others with that range given is binning them as before;
    the lowest value falls in the first bin, the highest in the last (the last edge is
    inclusive). tests/test_filters.py pins it against np.histogram.
    """
    a = np.asarray(values).ravel()
    if a.dtype.kind != "f" or a.size < 1024:
        return np.histogram(a, bins)
    lo, hi = a.min(), a.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo == hi:
        return np.histogram(a, bins)  # numpy's own error, or its own widened range
    at_lo, at_hi = a == lo, a == hi
    n_lo, n_hi = int(np.count_nonzero(at_lo)), int(np.count_nonzero(at_hi))
    if n_lo + n_hi < a.size // 4:
        return np.histogram(a, bins)
    hist, edges = np.histogram(a[~(at_lo | at_hi)], bins, range=(lo, hi))
    hist[0] += n_lo
    hist[-1] += n_hi
    return hist, edges


def noise(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 median absolute deviations)."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def background(f: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """The paper's tone under `f` (ink bright): slowly varying light, shadows, casts.

    A median at low resolution first; then the ink it finds is masked out and the paper
    around it filled in by a normalised Gaussian (the paper's mean, ink ignored).
    """
    small = resize(f, _shape_within(f.shape, BG_SIDE), Image.Resampling.BOX)
    coarse = resize(small, _shape_within(small.shape, BG_COARSE), Image.Resampling.BOX)
    k = max(3, min(coarse.shape) // 3) | 1
    bg = resize(filters.median(coarse, k), small.shape)  # ndi.median_filter's, faster
    resid = small - bg
    ink = resid > max(otsu(resid), NOISE_SIGMAS * noise(resid), MIN_INK / 2)
    paper = ~filters.dilate(ink, 2)
    if exclude is not None:  # a desk or a phone: not the paper whose light is estimated
        paper &= resize(exclude.astype(np.float32), small.shape) < 0.5
    sigma = max(small.shape) / BG_SMOOTH
    num = filters.gaussian(small * paper, sigma)  # ndi.gaussian_filter's, mode nearest
    den = filters.gaussian(paper.astype(np.float32), sigma)
    bg = np.where(den > 0.05, num / np.maximum(den, 1e-6), bg)
    # a shadow's core is no ink: the paper is never taken for lighter than a grey opening
    # wider than any stroke says it is there (the paper's tone follows a shadow; ink does not)
    # (a shadow's edge is soft; a cup's or a phone's is sharp: what is lifted there stays ink)
    k = max(3, round(OPEN_SIDE * max(small.shape))) | 1
    opened = ndi.grey_opening(small, size=k, mode="nearest")
    floor = ndi.gaussian_filter(opened, k / 4, mode="nearest")
    lifted, n = ndi.label(floor > bg + MIN_INK / 2)
    if n:
        sharp = np.abs(opened - ndi.gaussian_filter(opened, 1.5, mode="nearest")) > SHARP_EDGE
        solid = np.zeros(n + 1, bool)
        solid[np.unique(lifted[sharp & (lifted > 0)])] = True
        solid[0] = True
        bg = np.where(solid[lifted], bg, np.maximum(bg, floor))
    return resize(bg, f.shape)


def _shape_within(shape: tuple[int, int], long: int) -> tuple[int, int]:
    return tuple(max(4, round(s * long / max(shape))) for s in shape)


def find_sheet(gray: np.ndarray) -> np.ndarray:
    """The sheet of paper alone when it lies on a darker desk that frames the photo.

    The sheet is the largest light region (holes, i.e. the writing, filled) when the
    image's border is nearly all dark and that region is a solid, page-like block; the
    photo is cropped to it and the desk left inside the crop painted the sheet's tone.
    Otherwise (the paper fills the frame, or light ink on a dark board) `gray` as it is.
    """
    cut = otsu(gray)
    ring = np.r_[gray[0], gray[-1], gray[:, 0], gray[:, -1]]
    if np.mean(ring < cut) < SHEET_RING:
        return gray
    light = filters.fill_holes(gray > cut)
    lab, n = ndi.label(light)
    if n == 0:
        return gray
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    areas[0] = 0
    k = int(areas.argmax())
    ys, xs = ndi.find_objects(lab)[k - 1]
    box = (ys.stop - ys.start) * (xs.stop - xs.start)
    if areas[k] < SHEET_MIN * gray.size or areas[k] < SHEET_SOLID * box:
        return gray
    my, mx = round(SHEET_MARGIN * (ys.stop - ys.start)), round(SHEET_MARGIN * (xs.stop - xs.start))
    crop = (slice(ys.start + my, ys.stop - my), slice(xs.start + mx, xs.stop - mx))
    sheet = gray[crop].copy()
    inside = lab[crop] == k
    sheet[~inside] = np.median(sheet[inside])
    return sheet


def find_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """(ink, dark_ink): ink as a fraction of the paper's tone (0 = paper), and its polarity."""
    ink, dark_ink, _ = ink_and_off_paper(gray)
    return ink, dark_ink


def ink_and_off_paper(gray: np.ndarray, paper: float | None = None
                      ) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """`find_ink`'s (ink, dark_ink) and the `off_paper` mask it used (None for light ink).
    `paper`: the tone of a drawing's paper, when `drawing_copy` found it before reducing it."""
    # the extremes of the 200 darkest and lightest pixels (0.2% on a small image): a short
    # number written small on a large photo is a few hundred pixels of ink
    q = 100 * min(0.002, 200 / gray.size)
    lo, med, hi = np.percentile(gray, [q, 50, 100 - q])
    if hi - lo < MIN_CONTRAST:
        raise UserError("blank image: no ink found (the whole image is one tone)")
    dark_ink = bool(hi - med < med - lo)  # the ink is the extreme farther from the paper
    off = None if dark_ink else off_paper(gray)
    if off is not None and off.mean() < PAPER_MOST:
        # a desk or a shadowed border over a third of the frame pulls the median down to
        # it, and dark ink then looks light: the paper's tone is judged without what lies
        # off the paper, where the paper is still most of the frame (light ink on a dark
        # board: the board is all of it, and it stays light)
        med = float(np.median(gray[~off]))
        dark_ink = bool(hi - med < med - lo)
    if not dark_ink:
        off = None
    elif off is None:
        off = off_paper(gray)
    f = 1 - gray if dark_ink else gray
    tone = med if paper is None else paper
    tone = float(np.float32(1 - tone)) if dark_ink else float(tone)
    if paper is not None or _flat(np.abs(f - tone)):
        # a drawing (the page's pad, a paint program) or a thresholded scan: its light is
        # its paper's one tone, and estimating it (a third of a drawing's time) finds the same
        bg = np.full(f.shape, tone, np.float32)
    else:
        bg = background(f, off)
    ink = f - bg
    if dark_ink:  # relative to the paper's own brightness: a shadow dims ink and paper alike
        ink = ink / np.maximum(1 - bg, 0.05)
        ink[off] = 0  # a desk's or a phone's own texture is no ink
    return ndi.gaussian_filter(ink, 0.7).astype(np.float32), dark_ink, off


def off_paper(gray: np.ndarray) -> np.ndarray:
    """bool [H, W]: what is far darker than the paper around it (a desk, a phone), where
    the paper's light divided out would turn the object's own texture into ink."""
    small = resize(gray, _shape_within(gray.shape, BG_SIDE), Image.Resampling.BOX)
    # only what reaches the frame can be off the paper, and it is darker than OFF_PAPER of
    # the 90th percentile, so of the brightest tone: when no pixel of the frame is, after the
    # median (a 5x5 window reaches 2 pixels in), nothing is, and the whole median is skipped
    # (a drawing, a sheet filling the photo): the same answer at a third of the cost
    ring = np.r_[filters.median(small[:5], 5)[0], filters.median(small[-5:], 5)[-1],
                 filters.median(small[:, :5], 5)[:, 0], filters.median(small[:, -5:], 5)[:, -1]]
    if ring.min() >= OFF_PAPER * small.max():
        return np.zeros(gray.shape, bool)
    small = filters.median(small, 5)  # ndi.median_filter(small, 5, mode="nearest"), faster
    lab, n = ndi.label(small < OFF_PAPER * np.percentile(small, 90))
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    edge = np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    big = np.zeros(n + 1, bool)
    big[edge] = areas[edge] >= OFF_PAPER_AREA * small.size  # at the frame, and large: no ink
    # or running along the frame, however thin: the desk beside a sheet in perspective
    ring = np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]]
    along = np.bincount(ring, minlength=n + 1)
    big |= along >= OFF_PAPER_ALONG * min(small.shape)
    big[0] = False
    if not big.any():  # nothing off the paper (what the lines below give for an empty mask)
        return np.zeros(gray.shape, bool)
    off = filters.dilate(big[lab], 3)
    return resize(off.astype(np.float32), gray.shape) > 0.5


def threshold(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """(mask, low cut): Otsu's cut, kept above the noise; hysteresis down to half of it.

    The mask is the ink above the low cut that touches ink above the full one.
    """
    split = otsu(np.maximum(ink, 0))  # paper brighter than its estimate is paper, not ink
    paper = ink[ink < split]
    sd = noise(paper) if paper.size else 0.0  # the paper's grain, the ink left out (flat: none)
    cut = max(split, NOISE_SIGMAS * sd, MIN_INK)
    strong = ink > cut
    if not strong.any() or ink.max() < max(MIN_INK * 1.5, 2 * NOISE_SIGMAS * sd):
        raise UserError("no ink found: nothing on the image stands out from the paper")
    low = max(cut / 2, 0.75 * NOISE_SIGMAS * sd, MIN_INK / 2)
    lab, n = ndi.label(ink > low, structure=np.ones((3, 3)))
    keep = np.zeros(n + 1, bool)
    keep[np.unique(lab[strong])] = True
    keep[0] = False
    return keep[lab], low


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the area over the boundary's length."""
    area = mask.sum()
    edge = (mask & ~filters.erode(mask)).sum()
    return 2.0 * area / max(edge, 1)


def to_mnist(coverage: np.ndarray) -> np.ndarray:
    """uint8 [28, 28] from one digit's ink coverage (> 0.5 is ink), white on black.

    Strokes are brought to MNIST's width for the digit's height, the longer side
    scaled to 20 pixels with anti-aliasing, and the centre of mass put at (14, 14).
    """
    side = max(coverage.shape)
    if side < UPSAMPLE:  # cut the mask from a smooth upsampling, not from blocky pixels
        coverage = ndi.zoom(coverage, UPSAMPLE / side, order=1)
    mask = _crop(coverage > 0.5)
    if not mask.any():
        return np.zeros((SIDE, SIDE), np.uint8)
    side = max(mask.shape)
    width = stroke_width(mask)
    if width < STROKE_SLACK * STROKE * side:
        r = (STROKE * side - width) / 2
        pad = int(np.ceil(r)) + 1
        mask = ndi.distance_transform_edt(~np.pad(mask, pad)) <= r
    elif width > STROKE_MAX * side:
        r = (width - STROKE_MAX * side) / 2
        thinner = ndi.distance_transform_edt(np.pad(mask, 1)) > r
        if thinner.sum() > 0.3 * mask.sum():  # never erode a digit away
            mask = thinner
    mask = _crop(mask)
    h, w = mask.shape
    scale = BOX / max(h, w)
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    digit = np.clip(resize(mask.astype(np.float32), shape, Image.Resampling.BOX), 0, 1)
    return centre(digit)


def square(coverage: np.ndarray) -> np.ndarray:
    """`to_mnist` of a part first squeezed to at most SQUARE x its height wide: two digits
    read as one part (recipes.handwriting.pairs) keep a digit's height, not half of it."""
    h, w = coverage.shape
    if w > SQUARE * h:
        coverage = ndi.zoom(coverage, (1.0, SQUARE * h / w), order=1)
    return to_mnist(coverage)


def centre(digit: np.ndarray) -> np.ndarray:
    """A 20-pixel digit placed in 28x28 with its centre of mass at (14, 14), uint8."""
    h, w = digit.shape
    cy, cx = ndi.center_of_mass(digit) if digit.sum() > 0 else ((h - 1) / 2, (w - 1) / 2)
    oy = int(np.clip(round(SIDE / 2 - cy), 0, SIDE - h))
    ox = int(np.clip(round(SIDE / 2 - cx), 0, SIDE - w))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[oy:oy + h, ox:ox + w] = digit
    return np.round(out * 255).astype(np.uint8)


def _crop(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return mask
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
