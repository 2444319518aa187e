"""Pictures for the reports: captioned grids of digits, and a confusion matrix with counts.

A gallery is ONE image: every 28x28 tile is upscaled into a single canvas array, drawn once
with `imshow`, and each tile's caption is a text placed under it in a loop; the figure is
saved once, atomically. Canvas pixels map 1:1 onto PNG pixels, so captions sit exactly
under their tiles at any size.

    >>> tiles = draw_gallery("mistakes.png", ["lenet: 87 mistakes"],
    ...                      [Section("most confident first", images, captions)])
    >>> counts = draw_confusion("confusion.png", confusion_counts(y, pred), ["lenet"])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from recipes.atomic import atomic_path

SIDE = 28
SCALE = 3                 # tile side on the canvas: 84 px
COLS = 12                 # tiles per row
GAP = 14                  # px between tiles, and margin around the grid
LINE_PX = 12              # px per caption line at CAPTION_PT (100 dpi)
CAPTION_PT = 7
TITLE_PT = 10
HEADING_PT = 9
TITLE_LINE_PX = 18
HEADING_PX = 26
EMPTY_PX = 60             # height of the box that says a section has no tiles
DPI = 100
PAGE = 28                 # canvas value of the page around the tiles (0 white .. 255 black)
N_CLASSES = 10


@dataclass
class Section:
    """One grid of a gallery: a heading, the tiles and their captions (lines split by \\n)."""

    heading: str
    images: np.ndarray                       # uint8 [N, 28, 28], ink high as in MNIST
    captions: list[str]
    colors: list[str] = field(default_factory=list)   # one per caption; default black
    empty: str = "none"                      # shown instead of a grid when N == 0

    def __post_init__(self):
        self.images = np.asarray(self.images, np.uint8).reshape(-1, SIDE, SIDE)
        if len(self.images) != len(self.captions):
            raise ValueError(f"{len(self.images)} images but {len(self.captions)} captions")
        if self.colors and len(self.colors) != len(self.captions):
            raise ValueError(f"{len(self.captions)} captions but {len(self.colors)} colors")


@dataclass(frozen=True)
class Tile:
    """What was drawn for one digit: its section, caption, and top-left pixel in the PNG."""

    section: int
    caption: str
    x: int
    y: int


def upscale(images: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """[N, 28, 28] -> [N, 28*scale, 28*scale], nearest neighbour (pixels stay square)."""
    return images.repeat(scale, axis=1).repeat(scale, axis=2)


def _layout(title: list[str], sections: list[Section], cols: int):
    """Canvas size, where each heading and tile goes, and the caption band height."""
    side = SIDE * SCALE
    lines = max([c.count("\n") + 1 for s in sections for c in s.captions] or [1])
    band = lines * LINE_PX + 6
    cell_w, cell_h = side + GAP, side + band + GAP // 2
    width = GAP + cols * cell_w
    y = GAP + len(title) * TITLE_LINE_PX + GAP // 2
    headings, origins = [], []
    for s in sections:
        headings.append(y)
        y += HEADING_PX
        if len(s.images) == 0:
            origins.append([])
            y += EMPTY_PX + GAP
            continue
        rows = -(-len(s.images) // cols)
        origins.append([(GAP + (i % cols) * cell_w, y + (i // cols) * cell_h)
                        for i in range(len(s.images))])
        y += rows * cell_h + GAP
    return width, y, headings, origins, band


def draw_gallery(path: str | os.PathLike, title: list[str], sections: list[Section],
                 cols: int = COLS) -> list[Tile]:
    """Draw the sections as one captioned mosaic into a PNG at `path`; return what was drawn.

    Digits are shown as dark ink on white tiles over a light grey page. A section with no
    images gets a box with its `empty` text instead of a grid, so an empty gallery still
    explains itself.
    """
    from matplotlib.figure import Figure

    width, height, headings, origins, band = _layout(title, sections, cols)
    side = SIDE * SCALE
    canvas = np.full((height, width), PAGE, np.uint8)
    for s, boxes in zip(sections, origins):
        for img, (x, y) in zip(upscale(s.images), boxes):
            canvas[y:y + side, x:x + side] = img

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    for k, line in enumerate(title):
        ax.text(GAP, GAP + k * TITLE_LINE_PX, line, va="top", fontsize=TITLE_PT,
                fontweight="bold" if k == 0 else "normal")
    drawn = []
    for k, (s, top, boxes) in enumerate(zip(sections, headings, origins)):
        ax.text(GAP, top + 4, s.heading, va="top", fontsize=HEADING_PT, fontweight="bold")
        if not boxes:
            ax.text(width / 2, top + HEADING_PX + EMPTY_PX / 2, s.empty, ha="center",
                    va="center", fontsize=HEADING_PT + 3, color="#333333",
                    bbox={"facecolor": "white", "edgecolor": "#999999", "pad": 12})
        colors = s.colors or ["black"] * len(boxes)
        for caption, color, (x, y) in zip(s.captions, colors, boxes):
            ax.text(x + side / 2, y + side + 3, caption, ha="center", va="top",
                    fontsize=CAPTION_PT, color=color, linespacing=1.15, family="DejaVu Sans")
            drawn.append(Tile(k, caption, x, y))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return drawn


def confusion_counts(labels: np.ndarray, preds: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    """int [n, n]: row = true digit, column = predicted digit."""
    labels, preds = np.asarray(labels, np.int64), np.asarray(preds, np.int64)
    return np.bincount(labels * n + preds, minlength=n * n).reshape(n, n)


def top_confusions(counts: np.ndarray, k: int = 5) -> list[tuple[int, int, int]]:
    """The k largest off-diagonal cells as (true, predicted, count), largest first."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    cells = [(int(i) // len(counts), int(i) % len(counts)) for i in order]
    return [(t, p, int(off[t, p])) for t, p in cells if off[t, p] > 0]


def draw_confusion(path: str | os.PathLike, counts: np.ndarray, title: list[str]) -> np.ndarray:
    """Confusion matrix with the count in every cell; return the counts drawn.

    Correct answers (the diagonal) are pale green; mistakes are shaded red by their count
    against the largest mistake, so the common confusions stand out instead of being
    washed out by the diagonal's thousands.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    counts = np.asarray(counts, np.int64)
    n = len(counts)
    off = counts.astype(float)
    np.fill_diagonal(off, 0)
    shade = off / off.max() if off.max() > 0 else off
    rgb = colormaps["Reds"](0.08 + 0.82 * shade)[..., :3]
    rgb[off == 0] = 1.0
    rgb[np.arange(n), np.arange(n)] = (0.84, 0.93, 0.84)

    top = 0.25 * len(title) + 0.15          # inches of title above the matrix
    fig = Figure(figsize=(6.4, 6.2 + top), dpi=DPI)
    ax = fig.add_axes((0.1, 0.6 / (6.2 + top), 0.86, 5.4 / (6.2 + top)))
    ax.imshow(rgb, interpolation="nearest")
    for t in range(n):
        for p in range(n):
            c = int(counts[t, p])
            color = "white" if t != p and shade[t, p] > 0.55 else ("#bbbbbb" if c == 0 else "black")
            ax.text(p, t, str(c), ha="center", va="center", fontsize=8 if c < 1000 else 7,
                    color=color, fontweight="bold" if t == p or shade[t, p] > 0.3 else "normal")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    for k, line in enumerate(title):
        fig.text(0.5, 1 - (0.1 + 0.25 * k) / (6.2 + top), line, ha="center", va="top",
                 fontsize=TITLE_PT, fontweight="bold" if k == 0 else "normal")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return counts
