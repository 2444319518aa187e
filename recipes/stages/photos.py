"""Stage photos: the training split plus its digits as the photo reader cuts them out of photos.

    python -m recipes.stages.photos

Reads params.yaml `photos`:

    photos:
      pages: 0      # synthetic photos written with the training split's digits (0: none)
      seed: 100     # their seed (0 and 1 are the photo benchmark's and its dev pages')

A page is the photo benchmark's kind (recipes.handwriting.synth: lines of digits on paper,
photographed badly: pen widths, slant, blur, JPEG, shadows, clutter, touching digits) but
written with digits of the training split, never MNIST's test digits; a share PEN_SHARE
of the 1, 2, 4, 7 and 9 is pen-written in forms MNIST rarely has (flagged 1s, crossed 7s,
closed 4s, small-loop 9s, looped 2s), every proportion drawn at random
(`synth.pen_digit`), never the benchmark's own fixed templates (`synth.VARIANTS`).
The reader cuts each page into 28x28 inputs (`recipes.handwriting.preprocess.page`,
without a classifier, as this stage comes before any model); a page whose lines and digits
per line come out as written gives every one of its digits with its label, however the cut
looks (thick, thin, blurred, broken, clipped by a neighbour): what a model reading photos
has to read. Pages cut otherwise are left out, so are pages with no digits.

Writes data/tables/train_photos.parquet, what `data: photos` trains on: the training split's
rows first, then the photo digits in page order; and reports/photos/digits.png, some of them
per label. Pages are drawn from their own seeds (seed, page), so the table is the same
whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

import numpy as np

from recipes import config, paths, tables
from recipes.atomic import atomic_path
from recipes.errors import UserError, run
from recipes.handwriting import preprocess, synth

PEN_SHARE = 0.1     # of the 1, 2, 4, 7 and 9 written as synth.pen_digit draws them
CHUNK = 25          # pages a worker cuts per task
WORKERS = 4         # at most; fewer on a smaller machine
_digits: synth.Digits | None = None


def _init(X: np.ndarray, y: np.ndarray) -> None:
    global _digits
    _digits = synth.Digits(X, y, variants=PEN_SHARE, drawn=synth.pen_digit)


def cut(seed: int, k: int, digits: synth.Digits) -> tuple[np.ndarray, np.ndarray] | None:
    """Page k's digits as the reader cuts them, uint8 [n, 784], and their labels; None when
    the page has no digits or is not cut into its lines and digits as written."""
    rgb, label, _ = synth.make_page(seed, k, digits)
    if label == "none":
        return None
    lines = label.split("-")
    try:
        page = preprocess.page(rgb)
    except UserError:      # nothing found on it
        return None
    if [len(line) for line in page.lines] != [len(line) for line in lines]:
        return None
    # page.X is in reading order already: line by line, each left to right
    return page.X, np.array([int(c) for c in "".join(lines)], np.uint8)


def _cut_chunk(task: tuple[int, int, int]) -> list:
    seed, start, stop = task
    return [cut(seed, k, _digits) for k in range(start, stop)]


def photo_digits(X: np.ndarray, y: np.ndarray, pages: int, seed: int,
                 workers: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(pixels, labels, pages kept) of `pages` pages written with the digits (X, y)."""
    empty = (np.zeros((0, tables.N_PIXELS), np.uint8), np.zeros(0, np.uint8), 0)
    if pages == 0:
        return empty
    tasks = [(seed, s, min(s + CHUNK, pages)) for s in range(0, pages, CHUNK)]
    workers = max(1, min(workers or WORKERS, os.cpu_count() or 1, len(tasks)))
    if workers == 1:
        _init(X, y)
        results = [r for t in tasks for r in _cut_chunk(t)]
    else:   # pages are independent: processes, results in page order
        with multiprocessing.get_context("fork").Pool(workers, _init, (X, y)) as pool:
            results = [r for chunk in pool.imap(_cut_chunk, tasks) for r in chunk]
    kept = [r for r in results if r is not None]
    if not kept:
        return empty
    return (np.concatenate([r[0] for r in kept]), np.concatenate([r[1] for r in kept]), len(kept))


def draw(X: np.ndarray, y: np.ndarray, per_label: int = 24) -> np.ndarray:
    """uint8 picture: a row per label of its first photo digits, dark on white."""
    rows = []
    for d in range(10):
        cells = X[y == d][:per_label].reshape(-1, 28, 28)
        cells = np.concatenate([cells, np.zeros((per_label - len(cells), 28, 28), np.uint8)])
        rows.append(np.pad(cells, ((0, 0), (1, 1), (1, 1))).transpose(1, 0, 2).reshape(30, -1))
    return 255 - np.concatenate(rows)


def main() -> None:
    cfg = config.load().photos
    X, y = tables.read(paths.TRAIN_SPLIT)
    Xp, yp, kept = photo_digits(X, y, cfg.pages, cfg.seed)
    from PIL import Image
    picture = draw(Xp, yp) if len(yp) else np.full((30, 300), 255, np.uint8)
    with atomic_path(paths.PHOTOS_FIGURE) as tmp:   # renamed into place after the table
        Image.fromarray(picture).save(tmp, format="PNG")
        with tables.Writer(paths.PHOTOS) as out:
            out.append(X, y)
            if len(yp):
                out.append(Xp, yp)
    print(f"photos: {len(y)} images of the split + {len(yp)} photo digits from {kept} of "
          f"{cfg.pages} pages (seed {cfg.seed})", file=sys.stderr)


if __name__ == "__main__":
    run(main)
