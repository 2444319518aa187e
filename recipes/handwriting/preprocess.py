"""Photos of handwriting -> 28x28 inputs made the way MNIST's were, line by line.

MNIST's digits are white on black, their longer side scaled to 20 pixels with
anti-aliasing, then placed in a 28x28 field so that their centre of mass is at its
centre. A photo is none of that. `page(source)` takes a photo (a path or an array) through

1. `ink`: EXIF orientation, grayscale, a working copy of a workable size, the sheet
   cropped off a desk that frames it, a drawing's thick strokes brought down to a size that
   is enough for them, the paper's own light divided out (shadows, vignetting, colour
   casts), a threshold with hysteresis;
2. `segment`: components judged against the page's typical digit (not against the
   largest thing in the frame), straight rules opened out, the pieces of a digit merged,
   lines found (read top to bottom, each left to right), touching digits split; a page
   whose lines run at a slant is levelled and looked at again;
3. each line's writing made as upright as MNIST's (`line_slant`: the slant its digits
   share, shrunk for a line of few digits), then `ink.to_mnist` for each digit.

With `classify` (a model's `predict_proba`), the cuts between touching digits are the
ones the classifier reads most confidently; without it, only parts wider than any
digit are cut. `verify` (`recipes.handwriting.verify`) adds to each part's reading how
likely it is to be one whole digit, not a piece or two digits read as one; `pair`
(`recipes.handwriting.pairs`) offers a part's reading as two overlapping digits.

    >>> from recipes.handwriting import preprocess
    >>> page = preprocess.page("photo.jpg", classify=model.predict_proba)
    >>> page.X           # uint8 [n_digits, 784], in reading order
    >>> page.lines       # digit indices per line, top to bottom
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from recipes.errors import UserError
from recipes.handwriting import filters, segment
from recipes.handwriting.ink import (  # noqa: F401  (the names this module always offered)
    BOX, SIDE, SQUARE, centre, drawing_copy, find_ink, find_sheet, ink_and_off_paper, load_gray, noise,
    WORK_MAX, off_paper, otsu,
    resize, square, stroke_width, threshold, to_mnist, working_copy)

SKEW_MIN = 5.0       # lines sloping by more than this many degrees are levelled first
SMALL_DIGIT = 36     # digits shorter than this (pixels of the working copy)...
LOOK_HEIGHT = 48     # ...are looked at again, magnified to about this height...
LOOK_MARGIN = 1.5    # ...in the region that holds them, with this margin (x their height),
LOOK_MIN = 1.25      # ...when that magnifies by this much at least
MNIST_SLANT = -0.12  # MNIST's pooled slant, dx per dy (its digits lean right by ~7 degrees)
DESLANT_K = 3.0      # a line's slant counts n / (n + K) for its n digits: one digit's own slant
#                      says little of the writer's (MNIST's spread is 0.28 a digit; chosen on the dev pages)


@dataclass
class Page:
    """One photo, every step kept for the debug drawing."""

    gray: np.ndarray                 # float32 [H, W] in 0..1: the working copy
    ink: np.ndarray                  # float32 [H, W]: ink against the paper, 0 = paper
    mask: np.ndarray                 # bool [H, W]: the threshold (levelled when angle != 0)
    dark_ink: bool                   # True when the ink was darker than the paper
    threshold: float                 # the cut on `ink` (hysteresis: its lower one)
    angle: float = 0.0               # degrees the lines of digits were turned to level them
    boxes: list = field(default_factory=list)   # (x0, y0, x1, y1) per digit, reading order
    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, SIDE, SIDE), np.uint8))
    squares: np.ndarray = field(default_factory=lambda: np.zeros((0, SIDE, SIDE), np.uint8))
    #                                the same parts squeezed to a square (the pair reader's)
    lines: list = field(default_factory=list)     # digit indices per line, top to bottom
    rejected: list = field(default_factory=list)  # ((x0, y0, x1, y1), why not a digit)
    specks: int = 0                               # components dropped as specks
    height: float = 0.0                           # the typical digit's height (pixels)
    region: tuple | None = None  # (y0, x0, scale, working copy's shape): the steps show the
    #                              working copy's region from (y0, x0), magnified (small digits)
    drawing: bool = False        # flat paper (the server's pad, a paint program): no clutter

    @property
    def X(self) -> np.ndarray:
        """The digits as MNIST rows, uint8 [n, 784]."""
        return self.inputs.reshape(len(self.inputs), SIDE * SIDE)


class NoDigits(UserError):
    """A page holding no digit ("no digits found"), with its steps (`page`, and `proba` when
    the classifier read a mark) so that `--debug` can show why."""

    def __init__(self, message: str, page: Page, proba: np.ndarray | None = None):
        super().__init__(message)
        self.page = page
        self.proba = np.zeros((0, 10), np.float32) if proba is None else proba


def _input(padded: np.ndarray, part: np.ndarray, y0: int, x0: int,
           shear: float = 0.0) -> tuple[np.ndarray, tuple]:
    """One digit's MNIST input from its mask (top left at y0, x0) and the page's coverage,
    made upright by `shear` (dx per dy)."""
    upright, box = _upright(padded, part, y0, x0, shear)
    return to_mnist(upright), box


def _upright(padded: np.ndarray, part: np.ndarray, y0: int, x0: int,
             shear: float = 0.0) -> tuple[np.ndarray, tuple]:
    """A part's coverage (float), made upright, with a pixel's margin; and its box."""
    part = np.pad(part, 1)  # a 1-pixel margin round every digit, even at the border
    crop = padded[y0:y0 + part.shape[0], x0:x0 + part.shape[1]]
    box = (int(x0), int(y0), int(x0 + part.shape[1] - 2), int(y0 + part.shape[0] - 2))
    return _sheared(crop * filters.dilate(part), shear), box


def _sheared(a: np.ndarray, shear: float) -> np.ndarray:
    """`a` with each row moved by -shear * (row - middle row): a slant of `shear` undone."""
    if abs(shear) < 0.02:
        return a
    h, w = a.shape
    m = int(np.ceil(abs(shear) * h / 2)) + 1
    yc = (h - 1) / 2
    # output (y, x) reads input (y, x - m + shear * (y - yc))
    return ndi.affine_transform(a, np.array([[1.0, 0.0], [shear, 1.0]]),
                                offset=(0.0, -m - shear * yc), output_shape=(h, w + 2 * m), order=1)


def line_slant(parts: list) -> float:
    """The writing's slant in one line, beyond MNIST's own, shrunk towards none for few
    digits: the pooled dx per dy of the parts' pixels, each about its own centre."""
    sxy = syy = 0.0
    for _, _, p in parts:
        ys, xs = np.nonzero(p)
        yc, xc = ys - ys.mean(), xs - xs.mean()
        sxy += float((xc * yc).sum())
        syy += float((yc * yc).sum())
    if syy <= 0:
        return 0.0
    s = float(np.clip(sxy / syy, -0.6, 0.6)) - MNIST_SLANT
    return s * len(parts) / (len(parts) + DESLANT_K)


def _reader(padded: np.ndarray, classify: Callable | None, verify: Callable | None = None,
            pair: Callable | None = None):
    """read(part masks, y0, x0) -> each part's best log-probability, for segment.find, plus
    what `verify` adds for it (its log-probability of being one whole digit, weighted); or,
    where it is higher, `pair(X, squares)`: the part's reading as two overlapping digits, so
    that the cut search keeps such a part whole rather than cut it badly (the reader then
    reads it as its two digits: read.read_pairs)."""
    if classify is None:
        return None

    def read(parts, y0, x0):
        upright = [_upright(padded, *_tight(p, y0, x0))[0] for p in parts]
        X = np.stack([to_mnist(u) for u in upright]).reshape(len(parts), -1)
        proba = np.asarray(classify(X), np.float64)
        logp = np.log(np.maximum(proba.max(1), 1e-9))
        if verify is not None:
            logp = logp + np.asarray(verify(X), np.float64)
        if pair is not None:
            S = np.stack([_squared(u, x.reshape(28, 28)).reshape(-1) for u, x in zip(upright, X)])
            logp = np.maximum(logp, np.asarray(pair(X, S), np.float64))
        return logp
    return read


def _squared(upright: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The pair reader's input for a part (`ink.square`), given its usual input `x`: a part
    no wider than SQUARE x its height squares to to_mnist's own, so `x` is reused."""
    return square(upright) if upright.shape[1] > SQUARE * upright.shape[0] else x


def _tight(part: np.ndarray, y0: int, x0: int):
    rows, cols = np.flatnonzero(part.any(1)), np.flatnonzero(part.any(0))
    return part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], y0 + rows[0], x0 + cols[0]


def page(source, classify: Callable | None = None, verify: Callable | None = None,
         pair: Callable | None = None) -> Page:
    """Every step for one photo (path or array); `UserError` when it holds no digit.

    Digits written small on a large page (under SMALL_DIGIT pixels of the working copy)
    are looked at a second time: the region that holds them, magnified to about LOOK_HEIGHT
    (bicubic), its ink and threshold found afresh there. Strokes a pixel or two wide then
    come out whole, so a thin 1 is not lost as a speck, and the threshold follows the
    digits' own contrast rather than the whole page's. A drawing (flat paper) is read once."""
    gray, paper = drawing_copy(find_sheet(working_copy(load_gray(source))))
    ink, dark, off = ink_and_off_paper(gray, paper)
    try:
        mask, low = threshold(ink)
    except UserError as e:  # nothing stands out: a page without digits, said as such
        empty = Page(gray=gray, ink=ink, mask=np.zeros(gray.shape, bool), dark_ink=dark, threshold=0.0)
        raise NoDigits(f"no digits found: {e}", empty) from None
    # the frame's edge: the photo's border and what lies off the paper (a desk, a phone)
    frame = off if dark else np.zeros(gray.shape, bool)  # off_paper(gray), found with the ink
    frame = filters.dilate(frame, 6) if frame.any() else frame
    frame[[0, -1], :] = frame[:, [0, -1]] = True
    first = segment.find(mask, frame=frame, strength=ink)  # without the classifier's cuts
    if paper is None and 0 < first.height < SMALL_DIGIT and first.lines:
        try:
            return _look_again(gray, frame, first, classify, verify, pair)
        except UserError:
            pass  # nothing read in the region: the page as it is
    out = _read(gray, ink, mask, low, dark, frame, classify, first, verify, pair)
    out.drawing = paper is not None
    return out


def _look_again(gray, frame, first: segment.Found, classify, verify=None, pair=None) -> Page:
    """The page read from the region of its (small) digits, magnified; UserError when
    that region cannot be magnified enough or holds no digit."""
    h = first.height
    b = np.array([[x0, y0, x0 + p.shape[1], y0 + p.shape[0]]
                  for line in first.lines for y0, x0, p in line])
    m = int(LOOK_MARGIN * h)
    y0, x0 = max(0, b[:, 1].min() - m), max(0, b[:, 0].min() - m)
    y1, x1 = min(gray.shape[0], b[:, 3].max() + m), min(gray.shape[1], b[:, 2].max() + m)
    f = min(LOOK_HEIGHT / h, WORK_MAX / max(y1 - y0, x1 - x0))
    if f < LOOK_MIN:
        raise UserError("the digits' region is too large to magnify")
    shape = (round((y1 - y0) * f), round((x1 - x0) * f))

    def big(a):
        return resize(a[y0:y1, x0:x1].astype(np.float32), shape, Image.Resampling.BICUBIC)

    gray2 = np.clip(big(gray), 0, 1)
    ink2, dark2, _ = ink_and_off_paper(gray2, None)
    mask2, low2 = threshold(ink2)
    out = _read(gray2, ink2, mask2, low2, dark2, big(frame) > 0.5, classify, verify=verify, pair=pair)
    out.region = (y0, x0, f, gray.shape)
    return out


def _read(gray, ink, mask, low, dark, frame, classify, found=None, verify=None, pair=None) -> Page:
    """The digits of a thresholded page (`found`: its digits without the classifier, when
    the caller has them)."""
    coverage = np.clip(ink / (2 * low), 0, 1) * filters.dilate(mask)
    strength = ink
    if found is None:
        found = segment.find(mask, frame=frame, strength=strength)
    angle = _angle(found)
    if angle:  # lines written at a slant: level them, then find the digits again
        coverage = ndi.rotate(coverage, angle, reshape=True, order=1, mode="constant")
        mask = coverage > 0.5
        strength = ndi.rotate(ink, angle, reshape=True, order=1, mode="constant")
        frame = ndi.rotate(frame.astype(np.float32), angle, reshape=True, order=0, cval=1) > 0.5
        if found.rules is not None:  # rules and a box's sides found level stay opened out:
            # turned with the digits they slope past the slopes `segment.rules` looks along
            turned = ndi.rotate(found.rules.astype(np.float32), angle, reshape=True, order=1)
            mask &= ~(turned > 0.5)
    padded = np.pad(coverage, 1)
    if angle or classify is not None:
        found = segment.find(mask, _reader(padded, classify, verify, pair), frame, strength)
    out = Page(gray=gray, ink=ink, mask=mask, dark_ink=dark, threshold=low, angle=angle,
               rejected=found.rejected, specks=found.specks, height=found.height)
    inputs, squares = [], []
    for line in found.lines:
        out.lines.append(list(range(len(inputs), len(inputs) + len(line))))
        shear = line_slant(line)
        for y0, x0, part in line:
            upright, box = _upright(padded, part, y0, x0, shear)
            inputs.append(to_mnist(upright))
            squares.append(_squared(upright, inputs[-1]))
            out.boxes.append(box)
    if not inputs:
        why = f"; rejected: {found.rejected[0][1]}" if found.rejected else ""
        raise NoDigits(f"no digits found: nothing on the image looks like a digit{why}", out)
    out.inputs, out.squares = np.stack(inputs), np.stack(squares)
    return out


def _angle(found: segment.Found) -> float:
    if not found.lines:
        return 0.0
    boxes = [[x0, y0, x0 + p.shape[1], y0 + p.shape[0]] for line in found.lines for y0, x0, p in line]
    lines, k = [], 0
    for line in found.lines:
        lines.append(list(range(k, k + len(line))))
        k += len(line)
    angle = segment.line_angle(lines, np.asarray(boxes))
    return angle if abs(angle) >= SKEW_MIN else 0.0


def digits(source, classify: Callable | None = None) -> np.ndarray:
    """The digits of a photo in reading order, as MNIST rows uint8 [n, 784]."""
    return page(source, classify).X
