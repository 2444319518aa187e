"""Photos of handwriting -> 28x28 inputs made the way MNIST's were.

MNIST's digits are white on black, their longer side scaled to 20 pixels with
anti-aliasing, then placed in a 28x28 field so that their centre of mass is at its
centre. A photo is none of that. `page(source)` takes a photo (a path or an array) through

1. EXIF orientation, grayscale (an alpha channel is laid on white paper);
2. a working copy whose longer side is between WORK_MIN and WORK_MAX pixels, cropped
   to the sheet when the sheet lies on a darker desk that frames the photo;
3. ink found against the paper's own light: the paper is estimated (a median at low
   resolution, then again with the ink masked out) and divided out, so shadows,
   vignetting and colour casts go; dark ink on light paper is told from light on dark
   by which extreme lies farther from the page's median tone;
4. a threshold on that normalised image: Otsu's, never below the noise, with
   hysteresis so that faint parts of a stroke stay with its strong parts;
5. digits as connected components: specks dropped by size relative to the largest,
   broken strokes (a 5's flag, a 7's bar) merged into their digit when their boxes
   overlap horizontally, read left to right; a line of digits written at a slant is
   levelled first, and two digits that touch are cut apart between their loops;
6. each digit's strokes brought to MNIST's thickness relative to its height (a thin
   pen in a big photo would otherwise be a hairline at 20 pixels), its longer side
   scaled to 20 pixels with anti-aliasing, centred by its centre of mass in 28x28.

Everything is whole-array numpy/scipy; the only Python loops run over digits.

    >>> from recipes import preprocess
    >>> X = preprocess.digits("photo.jpg")   # uint8 [n_digits, 784], left to right
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage as ndi

from recipes.errors import UserError

SIDE = 28            # MNIST's field
BOX = 20             # the longer side of a digit in it
WORK_MAX = 1000      # working copy: a larger photo is scaled down to this longer side...
WORK_MIN = 256       # ...a smaller crop scaled up to this one, so that masks come out smooth
BG_SIDE = 128        # the paper is estimated at this resolution (light varies slowly)...
BG_COARSE = 48       # ...from a first median at this one
SHEET_RING = 0.9     # a border this much darker than the rest: a sheet lying on a desk...
SHEET_MIN = 0.2      # ...when the light region covers this much of the photo...
SHEET_SOLID = 0.85   # ...and this much of its own box (a page, not a light digit)
SHEET_MARGIN = 0.02  # the sheet's edge trimmed by this fraction of its size
MIN_CONTRAST = 0.04  # an image whose tones span less than this (of 0..1) is blank
MIN_INK = 0.08       # ink darker than its paper by less than this fraction is no ink
NOISE_SIGMAS = 4.0   # the threshold stays this many noise deviations above the paper
SPECK = 0.03         # components smaller than this fraction of the largest are specks
MERGE_OVERLAP = 0.5  # boxes overlapping by this fraction of the narrower one: one digit
MERGE_GAP = 0.4      # ...when no farther apart vertically than this fraction of the taller
SMALL_GROUP = 0.15   # a group with less ink than this fraction of the largest group's...
SHORT_GROUP = 0.45   # ...and shorter than this fraction of the tallest group is not a digit
MIN_HOLE = 0.02      # a loop enclosing less than this fraction of a digit's area is no loop
SKEW_MIN_DIGITS = 3  # a line of digits is levelled when it has at least this many...
SKEW_MIN = 5.0       # ...and slopes by more than this many degrees...
SKEW_FIT = 0.25      # ...with their centres this close to a line (fraction of their height)
STROKE = 0.125       # MNIST's median stroke width over digit height (2.5 px of 20)
STROKE_SLACK = 0.8   # thicken strokes thinner than this fraction of STROKE
STROKE_MAX = 0.22    # thin strokes thicker than this (a marker on a small digit) down to it
UPSAMPLE = 80        # a digit shorter than this is upsampled before its mask is cut


@dataclass
class Page:
    """One photo, every step kept for the debug drawing."""

    gray: np.ndarray                 # float32 [H, W] in 0..1: the working copy
    ink: np.ndarray                  # float32 [H, W]: ink against the paper, 0 = paper
    mask: np.ndarray                 # bool [H, W]: the threshold
    dark_ink: bool                   # True when the ink was darker than the paper
    threshold: float                 # the cut on `ink` (hysteresis: its lower one)
    angle: float = 0.0               # degrees the line of digits was turned to level it
    boxes: list = field(default_factory=list)   # (x0, y0, x1, y1) per digit, left to right
    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, SIDE, SIDE), np.uint8))

    @property
    def X(self) -> np.ndarray:
        """The digits as MNIST rows, uint8 [n, 784]."""
        return self.inputs.reshape(len(self.inputs), SIDE * SIDE)


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


# ---- ink against the paper -------------------------------------------------------------

def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance."""
    hist, edges = np.histogram(values, bins)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * mids)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][np.argmax(between)])


def noise(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 median absolute deviations)."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def background(f: np.ndarray) -> np.ndarray:
    """The paper's tone under `f` (ink bright): slowly varying light, shadows, casts.

    A median at low resolution first; then the ink it finds is masked out and the paper
    around it filled in by a normalised Gaussian (the paper's mean, ink ignored).
    """
    small = resize(f, _shape_within(f.shape, BG_SIDE), Image.Resampling.BOX)
    coarse = resize(small, _shape_within(small.shape, BG_COARSE), Image.Resampling.BOX)
    k = max(3, min(coarse.shape) // 3) | 1
    bg = resize(ndi.median_filter(coarse, size=k, mode="nearest"), small.shape)
    resid = small - bg
    ink = resid > max(otsu(resid), NOISE_SIGMAS * noise(resid), MIN_INK / 2)
    paper = ~ndi.binary_dilation(ink, iterations=2)
    sigma = max(small.shape) / 10
    num = ndi.gaussian_filter(small * paper, sigma, mode="nearest")
    den = ndi.gaussian_filter(paper.astype(np.float32), sigma, mode="nearest")
    bg = np.where(den > 0.05, num / np.maximum(den, 1e-6), bg)
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
    light = ndi.binary_fill_holes(gray > cut)
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
    lo, med, hi = np.percentile(gray, [0.2, 50, 99.8])
    if hi - lo < MIN_CONTRAST:
        raise UserError("blank image: no ink found (the whole image is one tone)")
    dark_ink = bool(hi - med < med - lo)  # the ink is the extreme farther from the paper
    f = 1 - gray if dark_ink else gray
    bg = background(f)
    ink = f - bg
    if dark_ink:  # relative to the paper's own brightness: a shadow dims ink and paper alike
        ink = ink / np.maximum(1 - bg, 0.05)
    return ndi.gaussian_filter(ink, 0.7).astype(np.float32), dark_ink


def threshold(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """(mask, low cut): Otsu's cut, kept above the noise; hysteresis down to half of it.

    The mask is the ink above the low cut that touches ink above the full one.
    """
    split = otsu(ink)
    sd = noise(ink[ink < split])  # the paper's grain, the ink left out
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


# ---- digits ----------------------------------------------------------------------------

def components(mask: np.ndarray):
    """(labels, boxes [k, 4] as x0, y0, x1, y1, areas [k]) of the 8-connected components."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    areas = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop]
                      for s in ndi.find_objects(lab)], int).reshape(-1, 4)
    return lab, boxes, areas


def group_digits(boxes: np.ndarray, areas: np.ndarray) -> list[list[int]]:
    """Component indices per digit, left to right.

    Specks (small next to the largest component) go; a component whose box overlaps
    another's horizontally by most of the narrower width, and lies near it vertically,
    is a piece of the same digit; a group that is both small and short is not a digit.
    """
    idx = [i for i in np.flatnonzero(areas >= SPECK * areas.max())]
    groups = [([i], boxes[i].copy(), int(areas[i])) for i in idx]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if _same_digit(groups[a][1], groups[b][1]):
                    ia, ba, sa = groups[a]
                    ib, bb, sb = groups.pop(b)
                    box = np.r_[np.minimum(ba[:2], bb[:2]), np.maximum(ba[2:], bb[2:])]
                    groups[a] = (ia + ib, box, sa + sb)
                    merged = True
                    break
            if merged:
                break
    if not groups:
        return []
    max_area = max(g[2] for g in groups)
    max_h = max(g[1][3] - g[1][1] for g in groups)
    groups = [g for g in groups
              if g[2] >= SMALL_GROUP * max_area or g[1][3] - g[1][1] >= SHORT_GROUP * max_h]
    groups.sort(key=lambda g: (g[1][0] + g[1][2]) / 2)
    return [g[0] for g in groups]


def _same_digit(a: np.ndarray, b: np.ndarray) -> bool:
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    narrower = min(a[2] - a[0], b[2] - b[0])
    gap = max(a[1], b[1]) - min(a[3], b[3])
    taller = max(a[3] - a[1], b[3] - b[1])
    return overlap >= MERGE_OVERLAP * narrower and gap <= MERGE_GAP * taller


def skew(groups: list[list[int]], boxes: np.ndarray) -> float:
    """Degrees to turn the page so that a slanted line of digits runs level (0 if it does).

    A straight line fitted through the digits' centres; only for three digits or more
    that lie close to that line, so that a short number's uneven heights do not count.
    """
    if len(groups) < SKEW_MIN_DIGITS:
        return 0.0
    box = np.array([[*boxes[g, :2].min(0), *boxes[g, 2:].max(0)] for g in groups], float)
    x, y = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
    slope, icpt = np.polyfit(x, y, 1)
    angle = float(np.degrees(np.arctan(slope)))
    residual = np.sqrt(np.mean((y - (slope * x + icpt)) ** 2))
    if abs(angle) < SKEW_MIN or residual > SKEW_FIT * np.median(box[:, 3] - box[:, 1]):
        return 0.0
    return angle


def split_touching(region: np.ndarray, depth: int = 3) -> list[np.ndarray]:
    """One digit's pixels, or two digits written so close that they touch, left to right.

    No digit has two loops side by side, so two such holes mean two digits: they are cut
    along the writing's slant, through the point between the holes, where that line
    crosses the ink once at most (a 0 with a stroke inside it crosses its own ring twice).
    """
    if depth == 0:
        return [region]
    holes = ndi.binary_fill_holes(region) & ~region
    lab, n = ndi.label(holes)
    if n < 2:
        return [region]
    areas = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    big = np.flatnonzero(areas >= MIN_HOLE * (region.sum() + areas.sum())) + 1
    if len(big) < 2:
        return [region]
    spans = ndi.find_objects(lab)
    centres = np.array(ndi.center_of_mass(holes, lab, big))
    big, centres = big[np.argsort(centres[:, 1])], centres[np.argsort(centres[:, 1])]
    ys, xs = np.nonzero(region)
    yc, xc = ys - ys.mean(), xs - xs.mean()
    slant = float((xc * yc).sum() / max((yc * yc).sum(), 1))  # dx per dy of the strokes
    width = max(2, round(stroke_width(region)))
    for (a, b), (ca, cb) in zip(zip(big, big[1:]), zip(centres, centres[1:])):
        sa, sb = spans[a - 1], spans[b - 1]
        y_overlap = min(sa[0].stop, sb[0].stop) - max(sa[0].start, sb[0].start)
        x_overlap = min(sa[1].stop, sb[1].stop) - max(sa[1].start, sb[1].start)
        shorter = min(sa[0].stop - sa[0].start, sb[0].stop - sb[0].start)
        if y_overlap < 0.5 * shorter or x_overlap > 0:
            continue  # above one another (an 8), or not apart
        ym, xm = (ca + cb) / 2
        rows = np.arange(region.shape[0])
        cut = np.round(xm + slant * (rows - ym)).astype(int)
        inside = (cut >= 0) & (cut < region.shape[1])
        on = np.zeros(len(rows), bool)
        on[inside] = region[rows[inside], cut[inside]]
        on = ndi.binary_closing(np.pad(on, width), np.ones(width))[width:-width]  # one stroke
        if np.count_nonzero(on[1:] & ~on[:-1]) + on[0] > 1:
            continue
        right = np.zeros_like(region)
        keep = xs - (xm + slant * (ys - ym)) >= 0
        right[ys[keep], xs[keep]] = True
        left = region & ~right
        return [p for half in (left, right) for p in split_touching(_no_specks(half), depth - 1)]
    return [region]


def _no_specks(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    areas[0] = 0
    return (areas >= SPECK * areas.max())[lab]


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the area over the boundary's length."""
    area = mask.sum()
    edge = (mask & ~ndi.binary_erosion(mask)).sum()
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


def page(source) -> Page:
    """Every step for one photo (path or array); `UserError` when it holds no ink."""
    gray = find_sheet(working_copy(load_gray(source)))
    ink, dark = find_ink(gray)
    mask, low = threshold(ink)
    coverage = np.clip(ink / (2 * low), 0, 1) * ndi.binary_dilation(mask)
    lab, boxes, areas = components(mask)
    groups = group_digits(boxes, areas)
    angle = skew(groups, boxes)
    if angle:  # a line written at a slant: level it, then find the digits again
        coverage = ndi.rotate(coverage, angle, reshape=True, order=1, mode="constant")
        mask = coverage > 0.5
        lab, boxes, areas = components(mask)
        groups = group_digits(boxes, areas)
    if not groups:
        raise UserError("no ink found: nothing on the image looks like a digit")
    out = Page(gray=gray, ink=ink, mask=mask, dark_ink=dark, threshold=low, angle=angle)
    padded = np.pad(coverage, 1)  # a 1-pixel margin round every digit, even at the border
    inputs = []
    for ids in groups:
        x0, y0 = boxes[ids, :2].min(0)
        x1, y1 = boxes[ids, 2:].max(0)
        for part in split_touching(np.isin(lab[y0:y1, x0:x1], np.asarray(ids) + 1)):
            rows, cols = np.flatnonzero(part.any(1)), np.flatnonzero(part.any(0))
            py, px = y0 + rows[0], x0 + cols[0]
            part = np.pad(part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1)
            crop = padded[py:py + part.shape[0], px:px + part.shape[1]]
            inputs.append(to_mnist(crop * ndi.binary_dilation(part)))
            out.boxes.append((int(px), int(py), int(px + part.shape[1] - 2),
                              int(py + part.shape[0] - 2)))
    out.inputs = np.stack(inputs)
    return out


def digits(source) -> np.ndarray:
    """The digits of a photo, left to right, as MNIST rows uint8 [n, 784]."""
    return page(source).X
