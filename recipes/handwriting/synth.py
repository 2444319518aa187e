"""A photo benchmark: pages of numbers written with MNIST *test* digits, photographed badly.

    python -m recipes.handwriting.synth --out data/photos --pages 300 --seed 0
    python -m recipes.predict --evaluate data/photos

Each page is drawn from its own seed (`seed`, page number), so page k is the same whatever
the page count. A page holds one to three lines of one to ten digits: MNIST test digits
(never trained on) and, for a share of 1, 2, 4, 7 and 9, pen-drawn shapes MNIST rarely
has (continental 1 and 7, a 7 with a short bar, a closed 4, a 9 with a small loop, a 2
with a loop). Digits vary in size (down to a 10-digit number on a whole sheet), spacing
(some pairs touch), slant, tilt and pen width. Then what photos add: paper texture and
colour casts, uneven light, soft shadows, clutter at the edges (a desk edge, a phone, a
hand's shadow, a dark vignette), ruled lines, a box or an underline touching the digits,
perspective, blur, sensor noise and JPEG. A few pages hold no digit at all (a blank
sheet in shadow, a cup, clutter only): their label is `none`.

Files are `<label>_p<k>.jpg`, the lines of a label joined by `-` (`120-4477`), and a
`manifest.json` with each page's label and tags (what was done to it), so that
`--evaluate` can give the rate per kind of page.
"""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from recipes.errors import UserError

MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
VARIANT_SHARE = 0.15   # of the 1, 2, 4, 7 and 9 drawn as a shape MNIST rarely has
TOUCH_SHARE = 0.12     # of neighbouring digits placed so that they touch
NONE_SHARE = 0.05      # of pages with no digit
MARGIN = 0.05          # a line of digits keeps this fraction of the sheet free each side (perspective moves corners by 3.5%)

# pen-drawn variants: polylines in a box 0..0.7 wide, 0..1 tall (y down)
def _loop(cx, cy, rx, ry, start=0.0, turns=1.0, n=16):
    t = start + np.linspace(0, 2 * np.pi * turns, n)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


VARIANTS = {
    1: [[[(0.08, 0.32), (0.42, 0.0), (0.42, 1.0)]],                                # continental
        [[(0.15, 0.2), (0.4, 0.0), (0.4, 1.0)], [(0.12, 1.0), (0.66, 1.0)]]],    # with a base
    7: [[[(0.0, 0.06), (0.66, 0.0), (0.22, 1.0)], [(0.12, 0.52), (0.6, 0.5)]],    # crossed
        [[(0.22, 0.04), (0.6, 0.0), (0.3, 1.0)]]],                                # short bar
    4: [[[(0.48, 1.0), (0.48, 0.0), (0.0, 0.62), (0.68, 0.62)]]],                  # closed
    9: [[_loop(0.4, 0.2, 0.17, 0.17, -0.2) + [(0.57, 0.2), (0.5, 1.0)]]],          # small loop
    2: [[[(0.05, 0.25), (0.2, 0.03), (0.42, 0.0), (0.6, 0.14), (0.55, 0.4), (0.12, 0.86),
          (0.08, 0.98), (0.2, 0.99), (0.24, 0.88), (0.14, 0.84), (0.1, 0.95), (0.68, 0.96)]]],
}


def drawn_digit(label: int, rng) -> np.ndarray:
    """float [h, w] in 0..1: one of `label`'s pen variants, its points jittered."""
    shape = VARIANTS[label][rng.integers(len(VARIANTS[label]))]
    return _strokes(shape, rng, 0.025, int(rng.integers(9, 15)))


def _strokes(strokes: list, rng, jitter: float, width: int) -> np.ndarray:
    """Polylines in a box 0..0.72 wide, 0..1 tall (y down), drawn with a round pen."""
    H, W, pad = 112, 90, 10
    img = Image.new("L", (W + 2 * pad, H + 2 * pad), 0)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        pts = np.asarray(stroke, float) + rng.normal(0, jitter, (len(stroke), 2))
        xy = [(pad + x * W / 0.72, pad + y * H) for x, y in pts]
        draw.line(xy, fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    return _crop(np.asarray(img, np.float32) / 255)


def pen_digit(label: int, rng) -> np.ndarray:
    """float [h, w]: a pen-written 1, 2, 4, 7 or 9 in a form MNIST rarely has, every
    proportion drawn at random: for *training* (the photos stage). The benchmark's own
    shapes (VARIANTS) are fixed templates that this does not use."""
    u = rng.uniform
    if label == 1:        # a stem with a flag, sometimes a base
        x = u(0.3, 0.5)
        s = [[(x - u(0.15, 0.4), u(0.1, 0.4)), (x, 0.0), (x - u(-0.05, 0.1), 1.0)]]
        if rng.random() < 0.4:
            w = u(0.15, 0.3)
            s.append([(x - w, 1.0), (x + w, 1.0)])
    elif label == 7:      # a bar and a stem, sometimes crossed, sometimes a short bar
        x0, w = (u(0.0, 0.15), u(0.5, 0.72)) if rng.random() < 0.6 else (u(0.15, 0.3), u(0.3, 0.45))
        x1 = min(0.72, x0 + w)
        foot = u(0.1, 0.35)
        s = [[(x0, u(0.0, 0.12)), (x1, 0.0), (foot, 1.0)]]
        if rng.random() < 0.5:
            t = u(0.4, 0.6)
            xm = x1 + (foot - x1) * t
            half = u(0.12, 0.25)
            s.append([(xm - half, t), (xm + half, t + u(-0.04, 0.04))])
    elif label == 4:      # closed: the diagonal meets the stem's top
        x, yb = u(0.38, 0.55), u(0.55, 0.72)
        s = [[(x, 1.0), (x, u(0.0, 0.1)), (u(0.0, 0.08), yb), (u(0.62, 0.72), yb)]]
    elif label == 9:      # a small loop on a long stem
        r = u(0.1, 0.2)
        cx, cy = u(0.25, 0.4), r + u(0.0, 0.05)
        t = np.linspace(0, 2 * np.pi, 16) + u(-0.5, 0.5)
        loop = list(zip(cx + r * np.cos(t), cy + r * u(0.8, 1.2) * np.sin(t)))
        s = [loop + [(cx + r, cy), (cx + r - u(-0.1, 0.2), 1.0)]]
    elif label == 2:      # a loop where the diagonal meets the base
        r = u(0.05, 0.1)
        bx = u(0.08, 0.2)
        s = [[(u(0.0, 0.1), u(0.15, 0.3)), (0.2, 0.02), (0.42, 0.0), (0.6, u(0.1, 0.2)),
              (u(0.5, 0.6), 0.4), (bx + r, 1.0 - 2 * r), (bx, 1.0 - r), (bx + r, 1.0),
              (bx + 2 * r, 1.0 - r), (bx + r, 1.0 - 2 * r), (bx + 3 * r, 1.0), (u(0.6, 0.72), 1.0)]]
    else:
        raise ValueError(f"no pen shape for {label}")
    return _strokes(s, rng, 0.02, int(rng.integers(8, 16)))


def _crop(a: np.ndarray, cut: float = 0.1) -> np.ndarray:
    rows, cols = np.flatnonzero((a > cut).any(1)), np.flatnonzero((a > cut).any(0))
    return a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize(
        (max(1, w), max(1, h)), Image.Resampling.BICUBIC), np.float32)


def _warp(a: np.ndarray, shear: float, angle: float) -> np.ndarray:
    """`a` slanted (x moves by -shear * y: tops lean right for shear > 0) and turned."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    fwd = np.array([[c, -s], [s, c]]) @ np.array([[1, 0], [-shear, 1]])  # (y, x) -> out
    h, w = a.shape
    corners = np.array([[0, 0], [0, w], [h, 0], [h, w]], float) @ fwd.T
    lo, hi = corners.min(0), corners.max(0)
    shape = tuple(np.ceil(hi - lo).astype(int) + 2)
    inv = np.linalg.inv(fwd)
    return ndi.affine_transform(a, inv, offset=inv @ (lo - 1), output_shape=shape, order=1)


class Digits:
    """MNIST digits by label, drawn at random (the benchmark's: MNIST's test digits), and a
    share `variants` of the 1, 2, 4, 7 and 9 drawn with the pen shapes above instead."""

    def __init__(self, X: np.ndarray, y: np.ndarray, variants: float = VARIANT_SHARE,
                 drawn=None):
        self.X = X.reshape(len(X), 28, 28)
        self.by_label = [np.flatnonzero(y == d) for d in range(10)]
        self.variants = variants
        self.drawn = drawn or drawn_digit   # drawn(label, rng) -> float [h, w]

    @classmethod
    def from_folder(cls, folder=MNIST_DIR) -> "Digits":
        from recipes import idx
        folder = Path(folder)
        images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
        if not images.exists():
            raise UserError(f"{folder}: no t10k-images-idx3-ubyte.gz (MNIST's test digits)")
        return cls(*idx.read_pair(images, labels))

    def one(self, label: int, rng) -> tuple[np.ndarray, str]:
        if label in VARIANTS and rng.random() < self.variants:
            return self.drawn(label, rng), "drawn"
        i = rng.choice(self.by_label[label])
        return _crop(self.X[i].astype(np.float32) / 255), "mnist"


def _pen(a: np.ndarray, height: int, factor: float) -> np.ndarray:
    """An upscaled digit as a pen stroke: sharp edges, width `factor` times MNIST's."""
    stroke = 0.125 * height
    k = int(round(abs(factor - 1) * stroke))
    if k >= 2:
        a = (ndi.grey_dilation if factor > 1 else ndi.grey_erosion)(a, size=(k, k))
    return np.clip((a - 0.3) / 0.3, 0, 1)


def write_line(labels: list[int], h: int, digits: Digits, rng, tags: set) -> tuple[np.ndarray, list]:
    """float ink [rows, cols] of one line of digits `h` tall, and each digit's x span."""
    pen = rng.uniform(0.55, 1.5)
    parts, x, spans = [], 0, []
    gap_mean = rng.uniform(0.12, 0.45)
    for k, d in enumerate(labels):
        img, how = digits.one(d, rng)
        if how == "drawn":
            tags.add("drawn")
        hd = int(round(h * rng.uniform(0.88, 1.08)))
        wd = int(round(img.shape[1] * hd / img.shape[0] * rng.uniform(0.85, 1.15)))
        img = _pen(_resize(img, hd, wd), hd, pen)
        dy = int(round(h * rng.uniform(-0.05, 0.05))) + (h - hd)
        if k:
            if rng.random() < TOUCH_SHARE:
                gap = -int(round(rng.uniform(0.0, 0.06) * h)) - 1
                tags.add("touching")
            else:
                gap = int(round(h * max(0.06, rng.normal(gap_mean, 0.08))))
            x += gap
        parts.append((img, x, dy))
        spans.append((x, x + img.shape[1]))
        x += img.shape[1]
    width = max(x0 + p.shape[1] for p, x0, _ in parts)
    top = min(0, min(dy for _, _, dy in parts))
    rows = max(dy + p.shape[0] for p, _, dy in parts) - top
    line = np.zeros((rows, width + 1), np.float32)
    for p, x0, dy in parts:
        sl = line[dy - top:dy - top + p.shape[0], x0:x0 + p.shape[1]]
        np.maximum(sl, p, out=sl)
    return line, spans


def fit_line(line: np.ndarray, H: int, W: int) -> np.ndarray:
    """A line of ink that would not fit a H x W sheet within its margins, written smaller:
    a digit cut off by the sheet's edge is no longer the number the label says."""
    lh, lw = line.shape
    room = min((1 - 2 * MARGIN) * W / lw, (1 - 2 * MARGIN) * H / lh)
    if room >= 1:
        return line
    return np.clip(_resize(line, int(lh * room), int(lw * room)), 0, 1)


def _smooth_noise(shape, rng, scale: float, amp: float, draw_only: bool = False) -> np.ndarray | None:
    small = tuple(max(2, int(s / scale)) for s in shape)
    n = rng.normal(0, 1, small)
    if draw_only:   # what follows on the page draws from rng as if the noise were used
        return None
    n = ndi.gaussian_filter(n, 1.0)
    n = np.asarray(Image.fromarray(n.astype(np.float32)).resize(shape[::-1], Image.Resampling.BICUBIC))
    return amp * n / max(n.std(), 1e-6)


def _grid(H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates, float32 [H, 1] and [1, W]: what follows broadcasts them to
    the page, each value as from a full [H, W] grid, without writing two page-sized arrays."""
    yy, xx = np.ogrid[:H, :W]
    return yy.astype(np.float32), xx.astype(np.float32)


def _support(weight: np.ndarray) -> tuple[slice, slice]:
    """The smallest box holding every nonzero of `weight` [H, W]: outside it, a blend by that
    weight leaves the page as it is."""
    rows, cols = np.flatnonzero(weight.any(1)), np.flatnonzero(weight.any(0))
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _blob(shape, rng, cx, cy, rx, ry, soft) -> np.ndarray:
    yy, xx = _grid(*shape)
    d = np.hypot((xx - cx) / rx, (yy - cy) / ry)
    return np.clip((1 - d) / soft + 0.5, 0, 1)


def _perspective(img: Image.Image, rng, amount: float) -> Image.Image:
    w, h = img.size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    dst = src + rng.uniform(-amount, amount, (4, 2)) * [w, h]
    A, b = [], []
    for (x, y), (u, v) in zip(dst, src):  # output (x, y) -> input (u, v)
        A += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        b += [u, v]
    coeffs = np.linalg.solve(np.array(A), np.array(b))
    # outside the photo: black, like the desk a sheet is photographed on
    return img.transform((w, h), Image.Transform.PERSPECTIVE, tuple(coeffs),
                         Image.Resampling.BILINEAR)


def make_page(seed: int, k: int, digits: Digits, long_side: tuple[int, int] = (700, 1600)):
    """(RGB uint8 [H, W, 3], label, tags) for page `k` of benchmark `seed`."""
    rng = np.random.default_rng([seed, k])
    S = int(rng.integers(*long_side))
    portrait = rng.random() < 0.6
    H, W = (S, int(S * rng.uniform(0.6, 0.8))) if portrait else (int(S * rng.uniform(0.6, 0.8)), S)
    tags: set = set()
    ink = np.zeros((H, W), np.float32)       # the pen's coverage
    marks = np.zeros((H, W), np.float32)     # ruled lines (a lighter ink)
    lines: list[str] = []
    box = None
    if rng.random() >= NONE_SHARE:
        n_lines = int(rng.choice([1, 2, 3], p=[0.6, 0.28, 0.12]))
        lengths = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 10], n_lines,
                             p=[0.12, 0.16, 0.16, 0.16, 0.12, 0.1, 0.07, 0.06, 0.05])
        small = rng.random() < 0.2
        fit = min(0.85 * W / (0.85 * max(lengths)), 0.7 * H / (1.9 * n_lines))
        h = int(min(fit, S * (rng.uniform(0.018, 0.04) if small else rng.uniform(0.04, 0.2))))
        h = max(h, 18)
        if small:
            tags.add("small")
        if n_lines > 1:
            tags.add("lines")
        shear = math.tan(math.radians(rng.uniform(-12, 20)))
        angle = rng.uniform(-4, 4) if rng.random() > 0.1 else rng.uniform(-12, 12)
        step = int(h * rng.uniform(1.45, 2.1))
        x_left = rng.uniform(0.05, 0.3) * W
        y = rng.uniform(0.1, 0.9) * (H - n_lines * step - h) + 0.05 * H
        for n in lengths:
            labels = [int(d) for d in rng.integers(0, 10, n)]
            line, _ = write_line(labels, h, digits, rng, tags)
            line = _warp(line, shear, angle)
            lh, lw = line.shape
            line = fit_line(line, H, W)
            lh, lw = line.shape
            x0 = int(min(x_left + rng.uniform(-0.05, 0.05) * W, W - lw - MARGIN * W))
            y0 = int(min(y, H - lh - MARGIN * H))
            x0, y0 = max(x0, int(MARGIN * W)), max(y0, int(MARGIN * H))
            if x0 + lw >= W or y0 + lh >= H:
                line = line[:H - y0 - 1, :W - x0 - 1]
                lh, lw = line.shape
            sl = ink[y0:y0 + lh, x0:x0 + lw]
            np.maximum(sl, line, out=sl)
            lines.append("".join(map(str, labels)))
            box = (x0, y0, x0 + lw, y0 + lh) if box is None else \
                (min(box[0], x0), min(box[1], y0), max(box[2], x0 + lw), max(box[3], y0 + lh))
            y += step
        stroke = max(2, int(0.1 * h * rng.uniform(0.6, 1.2)))
        img = Image.fromarray(np.zeros((H, W), np.uint8))
        draw = ImageDraw.Draw(img)
        bx0, by0, bx1, by1 = box
        r = rng.random()
        if r < 0.08 and n_lines == 1:   # a box drawn round the number, touching it or nearly
            m = int(h * rng.uniform(-0.02, 0.2))
            draw.rectangle([bx0 - m, by0 - m, bx1 + m, by1 + m], outline=255, width=stroke)
            tags.add("box")
        elif r < 0.18:                  # underlined, touching the digits' feet or nearly
            yl = by1 - int(h * rng.uniform(0.0, 0.1)) + (0 if n_lines == 1 else 0)
            draw.line([(bx0 - 0.1 * h, yl), (bx1 + 0.1 * h, yl + rng.uniform(-0.05, 0.05) * h)],
                      fill=255, width=stroke)
            tags.add("underline")
        np.maximum(ink, np.asarray(img, np.float32) / 255, out=ink)
        if rng.random() < 0.2:          # ruled paper: the digits sit on its lines
            spacing = step if n_lines > 1 else int(h * rng.uniform(1.2, 1.8))
            y_rule = (by1 - h * 0.02) % spacing
            img = Image.fromarray(np.zeros((H, W), np.uint8))
            draw = ImageDraw.Draw(img)
            t = int(rng.integers(1, 4))
            for yy in np.arange(y_rule, H, spacing):
                draw.line([(0, yy), (W, yy + rng.uniform(-2, 2))], fill=255, width=t)
            marks = np.asarray(img, np.float32) / 255 * rng.uniform(0.25, 0.55)
            tags.add("ruled")
    else:
        tags.add("none")
        lines = []
        box = (W // 2, H // 2, W // 2 + 1, H // 2 + 1)

    # paper, pen and light
    cast = 1 + rng.normal(0, 0.05, 3)
    paper = np.clip(rng.uniform(0.8, 0.97) * cast, 0, 1)
    pen = [np.array([0.08, 0.08, 0.1]), np.array([0.1, 0.15, 0.45]),
           np.array([0.3, 0.3, 0.32]), np.array([0.45, 0.1, 0.1])][rng.choice(4, p=[0.45, 0.35, 0.12, 0.08])]
    pen = pen * rng.uniform(0.8, 1.2)
    rule_colour = np.array([0.45, 0.6, 0.85])
    texture = 1 + _smooth_noise((H, W), rng, 6, 0.015) + rng.normal(0, 0.01, (H, W))
    rgb = paper * texture[..., None]
    # The page's arrays are float64 [H, W, 3], tens of megabytes: each blend below is worked
    # out, value for value the expression in its comment, only where its weight is not zero
    # (elsewhere x * (1 - 0) + y * 0 is x) and in place: the same page in half the time.
    if "ruled" in tags:   # rgb * (1 - marks) + rgb * rule_colour * marks, on the ruled rows
        rows = marks.any(1)
        m = marks[rows, :, None]
        rgb[rows] = rgb[rows] * (1 - m) + rgb[rows] * rule_colour * m
    ys, xs = _support(ink)   # rgb * (1 - ink_c) + pen * ink_c, where there is ink
    ink_c = ink[ys, xs, None] * rng.uniform(0.8, 1.0)
    inked = rgb[ys, xs]
    np.multiply(inked, 1 - ink_c, out=inked)
    inked += pen * ink_c

    obj = np.zeros((H, W), np.float32)  # opaque clutter in the frame
    obj_rgb = np.zeros(3)
    bx0, by0, bx1, by1 = box
    room = {"left": bx0, "right": W - bx1, "top": by0, "bottom": H - by1}
    if rng.random() < 0.25:             # a desk edge along a side the writing leaves free
        side = max(room, key=lambda s: room[s] * rng.uniform(0.7, 1.3))
        depth = min(room[side] * rng.uniform(0.4, 0.9), 0.25 * (W if side in "leftright" else H))
        yy, xx = _grid(H, W)
        tilt = rng.uniform(-0.1, 0.1)
        d = {"left": depth - xx + tilt * yy, "right": xx - (W - depth) + tilt * yy,
             "top": depth - yy + tilt * xx, "bottom": yy - (H - depth) + tilt * xx}[side]
        obj = np.maximum(obj, np.clip(d / 2 + 0.5, 0, 1))
        obj_rgb = np.array([0.25, 0.17, 0.1]) * rng.uniform(0.3, 1.3)
        tags.add("desk")
    if rng.random() < 0.12 and "none" not in tags or ("none" in tags and rng.random() < 0.5):
        side = max(room, key=lambda s: room[s] * rng.uniform(0.7, 1.3))
        pw, ph = S * rng.uniform(0.12, 0.2), S * rng.uniform(0.25, 0.4)
        cx = {"left": 0.1 * pw, "right": W - 0.1 * pw, "top": rng.uniform(0, W), "bottom": rng.uniform(0, W)}[side]
        cy = {"left": rng.uniform(0, H), "right": rng.uniform(0, H), "top": 0.1 * ph, "bottom": H - 0.1 * ph}[side]
        phone = Image.new("L", (W, H), 0)
        ImageDraw.Draw(phone).rounded_rectangle([cx - pw / 2, cy - ph / 2, cx + pw / 2, cy + ph / 2],
                                                radius=int(0.15 * pw), fill=255)
        phone = np.asarray(phone, np.float32) / 255
        # keep it off the writing
        if "none" not in tags:
            phone[max(0, by0 - h // 2):by1 + h // 2, max(0, bx0 - h // 2):bx1 + h // 2] = 0
        obj = np.maximum(obj, phone)
        obj_rgb = np.array([0.06, 0.06, 0.07])
        tags.add("phone")
    if "none" in tags and rng.random() < 0.4:   # a cup: a dark body and its handle
        cup = Image.new("L", (W, H), 0)
        draw = ImageDraw.Draw(cup)
        cx, cy, r = W * rng.uniform(0.35, 0.65), H * rng.uniform(0.35, 0.65), S * rng.uniform(0.12, 0.25)
        draw.polygon([(cx - r, cy - r), (cx + r, cy - r), (cx + 0.8 * r, cy + r), (cx - 0.8 * r, cy + r)], fill=255)
        draw.ellipse([cx + 0.7 * r, cy - 0.6 * r, cx + 1.5 * r, cy + 0.4 * r], outline=255, width=int(0.15 * r))
        obj = np.maximum(obj, np.asarray(cup, np.float32) / 255)
        obj_rgb = np.array([0.5, 0.2, 0.15]) * rng.uniform(0.5, 1.2)
        tags.add("cup")
    if obj.any():   # rgb * (1 - obj) + obj_rgb * (1 + noise) * obj, where there is clutter
        obj = ndi.gaussian_filter(obj, 1.0)
        noise = _smooth_noise((H, W), rng, 20, 0.1)
        ys, xs = _support(obj)
        o = obj[ys, xs, None]
        rgb[ys, xs] = rgb[ys, xs] * (1 - o) + obj_rgb * (1 + noise[ys, xs])[..., None] * o
    else:           # nothing in the frame: the page as it is, the noise's draw made all the same
        _smooth_noise((H, W), rng, 20, 0.1, draw_only=True)

    yy, xx = _grid(H, W)
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * xx + np.sin(a) * yy) / math.hypot(H, W)
    light = 1 - rng.uniform(0, 0.45) * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    vignette = rng.uniform(0, 0.5) if rng.random() < 0.2 else rng.uniform(0, 0.15)
    if vignette > 0.3:
        tags.add("vignette")
    light *= 1 - vignette * np.clip(np.hypot((xx / W - 0.5) * 2, (yy / H - 0.5) * 2) - 0.4, 0, 1) ** 1.5
    if rng.random() < 0.3:              # a soft shadow: a hand, a head, the phone itself
        side = rng.choice(["left", "right", "top", "bottom"])
        cx = {"left": 0, "right": W}.get(side, rng.uniform(0, W))
        cy = {"top": 0, "bottom": H}.get(side, rng.uniform(0, H))
        light *= 1 - rng.uniform(0.25, 0.6) * _blob((H, W), rng, cx, cy, S * rng.uniform(0.2, 0.5),
                                                     S * rng.uniform(0.2, 0.5), 0.6)
        tags.add("shadow")
    np.multiply(rgb, light[..., None], out=rgb)   # clip(rgb * light + noise, 0, 1)
    rgb += rng.normal(0, rng.uniform(0.005, 0.025), (H, W, 1))
    np.clip(rgb, 0, 1, out=rgb)
    im = Image.fromarray((rgb * 255).astype(np.uint8))
    if rng.random() < 0.5:
        im = _perspective(im, rng, 0.035)
        tags.add("perspective")
    blur = rng.uniform(0, 1.3) * S / 1000
    if blur > 0.3:
        im = Image.fromarray(ndi.gaussian_filter(np.asarray(im, np.float32), (blur, blur, 0)).clip(0, 255).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(rng.integers(35, 92)))
    buf.seek(0)
    label = "-".join(lines) if lines else "none"
    return np.asarray(Image.open(buf).convert("RGB")), label, sorted(tags)


def generate(out, pages: int, seed: int, digits: Digits, long_side=(700, 1600)) -> list[dict]:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*_p[0-9]*.jpg"):
        old.unlink()
    manifest = []
    for k in range(pages):
        rgb, label, tags = make_page(seed, k, digits, long_side)
        name = f"{label}_p{k:04d}.jpg"
        Image.fromarray(rgb).save(out / name, quality=95)
        manifest.append({"file": name, "label": label, "tags": tags})
    (out / "manifest.json").write_text(json.dumps({"seed": seed, "pages": manifest}, indent=1) + "\n")
    return manifest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m recipes.handwriting.synth", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/photos", help="folder for the pages (default data/photos)")
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mnist", default=str(MNIST_DIR), help="folder with MNIST's t10k files")
    args = ap.parse_args(argv)
    if args.pages < 1:
        raise UserError("--pages: must be at least 1")
    manifest = generate(args.out, args.pages, args.seed, Digits.from_folder(args.mnist))
    print(f"{args.out}: {len(manifest)} pages (seed {args.seed})")


if __name__ == "__main__":
    from recipes.errors import run
    run(main)
