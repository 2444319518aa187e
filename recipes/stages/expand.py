"""Stage expand: the training split plus distorted copies of every image, as one table.

    python -m recipes.expand

Reads params.yaml `expand`:

    expand:
      copies: 4                  # distorted copies of each image (0: the table as it is)
      seed: 42                   # same seed, same table (default: the top-level seed)
      transforms: [shift]        # any of elastic, affine, shift, applied in that order
      elastic: {alpha: 34, sigma: 4}
      affine: {degrees: 10, scale: [0.9, 1.1], shear: 10, translate: 2}

Writes data/tables/train_expanded.parquet: the originals first, then copy 1 of every image,
then copy 2, ... (row `c * N + r` is copy c of original row r, whose label it keeps), so
N x (1 + copies) rows in row groups of at most ROWS, never all in memory. Elastic and affine
are fresh random draws for each copy (recipes.distort, one bilinear sampling for both); with
`shift`, copy c is moved one pixel down, up, right, left for c = 1, 2, 3, 4, 5, ... in turn,
so `copies: 4, transforms: [shift]` is Nielsen's expand_mnist.py (5 x the data).

Also writes reports/expand/distortions.png: example digits beside distorted copies of them,
a block of rows for each transform listed.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import torch

from recipes import distort, tables
from recipes import config, paths
from recipes.atomic import atomic_path
from recipes.errors import UserError, run

TRANSFORMS = ("elastic", "affine", "shift")
KEYS = {"copies", "seed", "transforms", "elastic", "affine"}
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (dy, dx): down, up, right, left, as expand_mnist
ROWS = 10_000  # images per row group; the random draws depend on it, so it is fixed


def check(cfg, default_seed: int = 0, where: str = "expand") -> dict:
    """The `expand` section, checked: {copies, seed, transforms, elastic, affine}."""
    if not isinstance(cfg, dict):
        raise UserError(f"params.yaml: `{where}` must be a mapping of {', '.join(sorted(KEYS))}")
    unknown = set(cfg) - KEYS
    if unknown:
        raise UserError(f"{where}: unknown key {', '.join(sorted(map(str, unknown)))} "
                        f"(known: {', '.join(sorted(KEYS))})")
    copies = cfg.get("copies", 0)
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
        raise UserError(f"{where}.copies: must be a whole number >= 0, got {copies!r}")
    seed = cfg.get("seed", default_seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"{where}.seed: must be a whole number >= 0, got {seed!r}")
    names = cfg.get("transforms") or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        raise UserError(f"{where}.transforms: must be a list of {', '.join(TRANSFORMS)}, "
                        f"got {names!r}")
    for name in names:
        if name not in TRANSFORMS:
            raise UserError(f"{where}.transforms: unknown transform {name!r} "
                            f"(known: {', '.join(TRANSFORMS)})")
    if len(set(names)) != len(names):
        raise UserError(f"{where}.transforms: a transform is listed twice in {names}")
    if copies and not names:
        raise UserError(f"{where}.transforms: list at least one of {', '.join(TRANSFORMS)} "
                        f"for {copies} copies")
    # both sections are checked even when unused: a wrong value is wrong either way
    elastic = distort.check_elastic(cfg.get("elastic"), f"{where}.elastic")
    affine = distort.check_affine(cfg.get("affine"), f"{where}.affine")
    return {"copies": copies, "seed": seed, "transforms": [t for t in TRANSFORMS if t in names],
            "elastic": elastic if "elastic" in names else None,
            "affine": affine if "affine" in names else None,
            "params": {"elastic": elastic, "affine": affine}}  # for the figure, used or not


def transform(X: np.ndarray, copy: int, plan: dict, gen: torch.Generator) -> np.ndarray:
    """Copy number `copy` (1, 2, ...) of uint8 rows [n, 784] under the plan, as uint8 rows."""
    x = torch.from_numpy(np.array(X, np.uint8)).view(-1, 1, 28, 28)  # a copy: X may be read-only
    if plan["elastic"] or plan["affine"]:
        x = distort.distort(tables.to_unit(x), gen, plan["elastic"], plan["affine"])
        x = x.mul_(255).round_().clamp_(0, 255).to(torch.uint8)
    if "shift" in plan["transforms"]:
        x = distort.shift(x, *SHIFTS[(copy - 1) % len(SHIFTS)])
    return x.reshape(len(X), -1).numpy()


def expand(X: np.ndarray, y: np.ndarray, plan: dict, dst: str | Path,
           figure: str | Path | None = None) -> int:
    """Write the expanded table (and the figure); returns the rows written."""
    if len(X) == 0:
        raise UserError("expand: the training table has no rows")
    gen = torch.Generator().manual_seed(plan["seed"])
    with contextlib.ExitStack() as stack:
        if figure is not None:  # drawn first, renamed into place only after the table
            picture = draw(X, plan)
            from PIL import Image
            Image.fromarray(picture).save(stack.enter_context(atomic_path(figure)), format="PNG")
        with tables.Writer(dst) as out:
            for copy in range(plan["copies"] + 1):
                for i in range(0, len(X), ROWS):
                    rows = X[i:i + ROWS] if copy == 0 else transform(X[i:i + ROWS], copy, plan, gen)
                    out.append(rows, y[i:i + ROWS])
            return out.rows


# ---- the figure ------------------------------------------------------------------------

EXAMPLES = 3    # digits per transform
COLUMNS = 8     # distorted copies beside each
ZOOM, GAP, SPLIT, MARGIN, HEADER = 3, 4, 16, 150, 16


def draw(X: np.ndarray, plan: dict, seed: int | None = None) -> np.ndarray:
    """uint8 [H, W] picture: per transform, example digits and copies of them, rows labelled."""
    from PIL import Image, ImageDraw

    gen = torch.Generator().manual_seed(plan["seed"] if seed is None else seed)
    examples = np.asarray(X[:EXAMPLES])
    blocks = []  # (label, [EXAMPLES, 1 + COLUMNS, 28, 28] uint8)
    # every transform is drawn, listed or not, so a person can see what each would do
    for name in TRANSFORMS:
        one = {**plan, "transforms": [name],
               "elastic": plan["params"]["elastic"] if name == "elastic" else None,
               "affine": plan["params"]["affine"] if name == "affine" else None}
        copies = [transform(examples, c, one, gen)
                  for c in range(1, (len(SHIFTS) if name == "shift" else COLUMNS) + 1)]
        used = "\n(in expand.transforms)" if name in plan["transforms"] else "\n(not in expand.transforms)"
        blocks.append((_label(name, one) + used, np.stack([examples, *copies], 1)))
    if len(plan["transforms"]) > 1:
        copies = [transform(examples, c, plan, gen) for c in range(1, COLUMNS + 1)]
        blocks.append(("+".join(plan["transforms"]) + "\n(one copy draws all)",
                       np.stack([examples, *copies], 1)))

    side = 28 * ZOOM + GAP
    rows = sum(len(b) for _, b in blocks)
    height = HEADER + rows * side + GAP * len(blocks)
    picture = np.full((height, MARGIN + (1 + COLUMNS) * side + SPLIT), 255, np.uint8)
    top, labels = HEADER, []
    for label, cells in blocks:
        labels.append((top, label))
        for r, row in enumerate(cells):
            for c, cell in enumerate(row):
                y0, x0 = top + r * side, MARGIN + c * side + (SPLIT if c else 0)
                # MNIST ink is white on black; drawn dark on white, as on paper
                picture[y0:y0 + 28 * ZOOM, x0:x0 + 28 * ZOOM] = 255 - np.kron(
                    cell.reshape(28, 28), np.ones((ZOOM, ZOOM), np.uint8))
        top += len(cells) * side + GAP
    image = Image.fromarray(picture)
    pen = ImageDraw.Draw(image)
    for y0, label in labels:
        for k, line in enumerate(label.split("\n")):
            pen.text((GAP, y0 + 4 + 14 * k), line, fill=0)
    pen.text((MARGIN, 2), "original", fill=0)
    pen.text((MARGIN + side + SPLIT, 2), "distorted copies", fill=0)
    return np.asarray(image)


def _label(name: str, plan: dict) -> str:
    if name == "elastic":
        return f"elastic\nalpha={plan['elastic']['alpha']:g} sigma={plan['elastic']['sigma']:g}"
    if name == "affine":
        a = plan["affine"]
        return (f"affine\nrotate +-{a['degrees']:g} deg\nscale {a['scale'][0]:g}..{a['scale'][1]:g}"
                f"\nshear +-{a['shear']:g} deg\nmove +-{a['translate']:g} px")
    return "shift\none pixel down, up,\nright, left"


def main() -> None:
    # the schema has checked every key and type; `check` adds what it cannot say in types
    plan = check(config.load().expand.model_dump())
    X, y = tables.read(paths.TRAIN_SPLIT)
    rows = expand(X, y, plan, paths.EXPANDED, paths.EXPAND_FIGURE)
    print(f"expand: {len(y)} images + {plan['copies']} copies of each "
          f"({', '.join(plan['transforms']) or 'none'}) = {rows} rows", file=sys.stderr)


if __name__ == "__main__":
    run(main)
