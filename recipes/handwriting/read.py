"""Read handwritten digits from photos with a trained model.

    python -m recipes.predict IMAGE... [--model NAME] [--debug OUT.png]
    python -m recipes.predict --evaluate FOLDER [--out FILE] [--model NAME]
    mnist-read IMAGE...                                   # the same, as a console script

Each photo goes through `recipes.preprocess` (one 28x28 MNIST-like input per digit,
left to right) and the model `models/<NAME>/` (trained by `dvc repro train@NAME`).
It prints the digits read and each one's probability. `--debug OUT.png` draws the steps
for the first image: the threshold mask, the boxes found, each input and its reading.
`--evaluate FOLDER` reads every image whose name starts with its label (`<label>_...`,
leading zeros count) and writes JSON (default reports/handwriting.json) with one entry
per image, plus a gallery of what it misread beside it (`<out stem>_misread.png`).

In Python:

    >>> from recipes.predict import read_digits, digit_probabilities
    >>> read_digits("photo.jpg")                  # '1717'
    >>> digit_probabilities("photo.jpg").shape   # (4, 10)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from recipes import models
from recipes.handwriting import preprocess
from recipes.atomic import atomic_path, write_text
from recipes.errors import UserError, run

DEFAULT_MODEL = "network3_2conv"  # reads real photos best of the default run (see README)
MODELS_DIR = Path("models")
DEFAULT_OUT = Path("reports/handwriting.json")
LABELLED = re.compile(r"^(\d+)_")


def load_model(model=None) -> models.Model:
    """A model as given, or `models/<name>/` (the default name when None)."""
    if model is not None and not isinstance(model, (str, Path)):
        return model
    name = DEFAULT_MODEL if model is None else str(model)
    path = MODELS_DIR / name
    if not (path / models.META).exists():
        raise UserError(f"model {name} was never trained: run `dvc repro train@{name}` "
                        f"(no {path / models.META})")
    return models.load(path)


def probabilities(page: preprocess.Page, model: models.Model) -> np.ndarray:
    return np.asarray(model.predict_proba(page.X), np.float32)


def digit_probabilities(source, model=None) -> np.ndarray:
    """float32 [n_digits, 10]: each digit's probabilities, left to right."""
    return probabilities(preprocess.page(source), load_model(model))


def read_digits(source, model=None) -> str:
    """The number written on a photo (path or array), as a string: leading zeros count."""
    return as_string(digit_probabilities(source, model))


def as_string(proba: np.ndarray) -> str:
    return "".join(str(int(d)) for d in proba.argmax(1))


def describe(proba: np.ndarray) -> str:
    return ", ".join(f"{d} {p:.2f}" for d, p in zip(proba.argmax(1), proba.max(1)))


# ---- drawings ------------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _boxes(ax, page: preprocess.Page, color="red") -> None:
    from matplotlib.patches import Rectangle
    for k, (x0, y0, x1, y1) in enumerate(page.boxes):
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor=color, linewidth=1.5))
        ax.text(x0, y0 - 2, str(k + 1), color=color, fontsize=8, va="bottom")


def debug_figure(page: preprocess.Page, proba: np.ndarray, path, title: str = "") -> None:
    """The steps for one photo: the working copy, the ink, the mask and boxes, each input."""
    plt = _pyplot()
    n = len(page.inputs)
    cols = max(3, n)
    fig = plt.figure(figsize=(max(9, 1.4 * cols), 6.5))
    grid = fig.add_gridspec(2, 3 * cols, height_ratios=[2.2, 1])
    steps = [(page.gray, "photo (grayscale)"),
             (page.ink, f"ink against the paper ({'dark' if page.dark_ink else 'light'} ink)"),
             (page.mask, f"threshold mask (cut {page.threshold:.2f}), {n} digits"
                         + (f",\nline levelled by {page.angle:.0f} degrees" if page.angle else ""))]
    for k, (img, name) in enumerate(steps):
        ax = fig.add_subplot(grid[0, k * cols:(k + 1) * cols])
        ax.imshow(img, cmap="gray")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        if k == 2:
            _boxes(ax, page)
    for k in range(n):
        ax = fig.add_subplot(grid[1, 3 * k:3 * k + 3])
        ax.imshow(page.inputs[k], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{proba[k].argmax()} ({proba[k].max():.2f})", fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{title}: read {as_string(proba)}" if title else f"read {as_string(proba)}")
    _save(fig, path)


def gallery(misread: list[dict], path) -> None:
    """One row per misread image: the photo with its boxes, then its inputs and readings."""
    plt = _pyplot()
    if not misread:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "nothing misread", ha="center", va="center")
        _save(fig, path)
        return
    cols = 1 + max(len(m["page"].inputs) if m["page"] is not None else 0 for m in misread)
    fig, axes = plt.subplots(len(misread), cols, figsize=(2 + 1.1 * cols, 1.6 * len(misread)),
                             squeeze=False)
    for row, m in zip(axes, misread):
        for ax in row:
            ax.axis("off")
        page = m["page"]
        row[0].set_title(f"{m['file']}\nlabel {m['label']}, read {m['read'] or '-'}",
                         fontsize=7, loc="left")
        if page is None:
            row[0].text(0, 0.5, m.get("error", ""), fontsize=6, wrap=True)
            continue
        row[0].imshow(page.gray, cmap="gray")
        _boxes(row[0], page)
        for k, img in enumerate(page.inputs):
            row[k + 1].imshow(img, cmap="gray", vmin=0, vmax=255)
            p = np.asarray(m["probabilities"][k])
            want = m["label"][k] if len(m["label"]) == len(page.inputs) else "?"
            color = "green" if str(p.argmax()) == want else "red"
            row[k + 1].set_title(f"{p.argmax()} {p.max():.2f}", fontsize=8, color=color)
    _save(fig, path)


def _save(fig, path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


# ---- evaluation ------------------------------------------------------------------------

def labelled_images(folder) -> list[tuple[Path, str]]:
    """(path, label) for each file whose name starts with `<label>_`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    found = [(p, LABELLED.match(p.name).group(1)) for p in sorted(folder.iterdir())
             if LABELLED.match(p.name) and not p.is_dir()]
    if not found:
        raise UserError(f"{folder}: no image named <label>_... (e.g. 7_mine.png) to evaluate")
    return found


def evaluate(folder, model=None, out=DEFAULT_OUT) -> dict:
    """Read every labelled image of `folder`; write the JSON report and misread gallery."""
    images = labelled_images(folder)
    model = load_model(model)
    entries, misread = [], []
    for path, label in images:
        entry = {"file": path.name, "label": label, "read": None, "probabilities": []}
        page = None
        try:
            page = preprocess.page(path)
            proba = probabilities(page, model)
            entry["read"] = as_string(proba)
            entry["probabilities"] = np.round(proba.astype(np.float64), 4).tolist()
        except UserError as e:
            entry["error"] = str(e)
            print(f"error: {e}", file=sys.stderr)
        entry["exact"] = entry["read"] == label
        entries.append(entry)
        if not entry["exact"]:
            misread.append({**entry, "page": page})
    right = sum(e["exact"] for e in entries)
    # digits are compared place by place only where as many were found as were written
    same_length = [e for e in entries if e["read"] is not None and len(e["read"]) == len(e["label"])]
    digits_total = sum(len(e["label"]) for e in entries)
    digits_right = sum(a == b for e in same_length for a, b in zip(e["read"], e["label"]))
    out = Path(out)
    report = {
        "folder": str(folder), "model": getattr(model, "name", str(model)),
        "images": len(entries), "exact": right, "exact_rate": round(right / len(entries), 4),
        "digits": digits_total, "digits_right": digits_right,
        "digit_rate": round(digits_right / digits_total, 4),
        "unreadable": sum("error" in e for e in entries),
        "gallery": str(gallery_path(out)), "results": entries,
    }
    write_text(out, json.dumps(report, indent=2) + "\n")
    gallery(misread, gallery_path(out))
    return report


def gallery_path(out) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}_misread.png")


# ---- command line ----------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="mnist-read", description="Read handwritten digits from photos with a trained model.")
    ap.add_argument("images", nargs="*", metavar="IMAGE", help="photos or scans to read")
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"a model trained into models/NAME/ (default {DEFAULT_MODEL})")
    ap.add_argument("--debug", metavar="OUT.png", help="draw the steps for the first image")
    ap.add_argument("--evaluate", metavar="FOLDER",
                    help="read every <label>_... image of FOLDER and report how many are right")
    ap.add_argument("--out", metavar="FILE", default=None,
                    help=f"the JSON report of --evaluate (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    if not args.images and not args.evaluate:
        ap.error("give at least one IMAGE, or --evaluate FOLDER")
    if args.out and not args.evaluate:
        ap.error("--out goes with --evaluate")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    model = load_model(args.model)
    failed = 0
    for k, image in enumerate(args.images):
        try:
            page = preprocess.page(image)
            proba = probabilities(page, model)
        except UserError as e:
            if len(args.images) == 1 and not args.evaluate:
                raise
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{image}: {as_string(proba)}  ({describe(proba)})")
        if args.debug and k == 0:
            debug_figure(page, proba, args.debug, title=Path(image).name)
            print(f"debug drawing: {args.debug}", file=sys.stderr)
    if args.evaluate:
        out = args.out or DEFAULT_OUT
        report = evaluate(args.evaluate, model, out)
        print(f"{args.evaluate}: {report['exact']}/{report['images']} read exactly "
              f"({report['exact_rate']:.1%}), digits {report['digit_rate']:.1%}; "
              f"report {out}, misread {report['gallery']}")
    if failed:
        sys.exit(1)


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()
