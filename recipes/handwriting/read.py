"""Read handwritten digits from photos with a trained model.

    python -m recipes.predict IMAGE... [--model NAME|FOLDER] [--debug OUT.png]
    python -m recipes.predict --evaluate FOLDER [--out FILE] [--model NAME|FOLDER]
    mnist-read IMAGE...                                   # the same, as a console script

Each photo goes through `recipes.handwriting.preprocess` (one 28x28 MNIST-like input per
digit, line by line) and the model `models/<NAME>/` (trained by `dvc repro train@NAME`)
or a model folder. It prints one string per line of digits (lines separated by a space,
top to bottom) and each digit's probability; a digit read with less than `confident_for(model)` is
marked `?`. A page with no digit-like ink says "no digits found" (exit 1 for one image).
`--debug OUT.png` draws the steps for the first image: the mask, the lines and boxes, the
rejected components and why, each input and its reading.

Where the part verifier is trained (`models/part_verifier/`, `dvc exp run -S
'train.verifiers=[part_verifier]'`; recipes.handwriting.verify), the cuts between touching
digits also ask it whether each part is one whole digit; `--verifier none` reads without it.
Where the pair reader is trained too (`models/pair_reader/`; recipes.handwriting.pairs), a
part it calls several digits that no cut parted is read as two overlapping digits when the
pair reader is sure of them; `--pairs none` reads without it.

`--evaluate FOLDER` reads every image whose name starts with its label (`<label>_...`,
leading zeros count; lines joined by `-`, as in `12-345_...`; `none_...` for a page with
no digit) and writes JSON (default reports/handwriting.json): the exact-number and
per-digit rates, the digits read below CONFIDENT, and the reliability figure, the share
of wrong strings among those read with every digit confident; with a `manifest.json`
(recipes.handwriting.synth) the rates per kind of page. A gallery of what it misread goes
beside it (`<out stem>_misread.png`). Unreadable images make it exit 1, after the report.

In Python:

    >>> from recipes.predict import read_digits, read_lines, digit_probabilities
    >>> read_digits("photo.jpg")                  # '1717' (two lines: '12 345')
    >>> read_lines("photo.jpg")                   # ['1717']
    >>> digit_probabilities("photo.jpg").shape   # (4, 10), in reading order
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

# the reader's model: the first of these that is trained (models/<name>/), chosen on the
# photo benchmark's dev pages (docs/handwriting.md). photo_reader, the committee (mean) of
# vgg_bn+1 and photo_vgg (since the eighteenth round photo_vgg+42 and photo_vgg+1), read the
# 300 dev pages of seed 2 at 81.7% against 77.3% and 81.3% for its members alone (sixth
# round; photo_vgg alone lost a shared number, so it is not in this list); vgg_bn+1
# (params.yaml's vgg_bn, seed 1: add it to train.models; an entry with seeds is listed by
# seed) reads them better than
# network3_2conv, what a default `dvc repro` trains; photo_cnn reads the dev pages better
# than network3_2conv but 36/38 of the shared single photos.
DEFAULT_MODELS = ("photo_reader", "vgg_bn+1", "network3_2conv", "photo_cnn")
DEFAULT_VERIFIER = "part_verifier"   # used when trained (models/part_verifier/)
DEFAULT_PAIRS = "pair_reader"        # used when trained (models/pair_reader/)
MODELS_DIR = Path("models")
DEFAULT_OUT = Path("reports/handwriting.json")
LABELLED = re.compile(r"^(\d+(?:-\d+)*|none)_")
CONFIDENT = 0.9   # a digit read with less is reported unsure (chosen on the dev pages, see docs)
LONE = 0.5        # a photo's only mark read below this share of the most the model can say is
#                   no digit (a cup's handle, a sheet's corner); chosen on the dev pages, see docs


def default_model() -> str:
    """The first of DEFAULT_MODELS trained into MODELS_DIR (the last when none is)."""
    for name in DEFAULT_MODELS:
        if (MODELS_DIR / name / models.META).exists():
            return name
    return DEFAULT_MODELS[-1]


def load_model(model=None):
    """A model as given, a model folder, or `models/<name>/` (`default_model()` when None)."""
    if model is not None and not isinstance(model, (str, Path)):
        return model
    name = default_model() if model is None else str(model)
    path = Path(name) if (Path(name) / models.META).exists() else MODELS_DIR / name
    if not (path / models.META).exists():
        raise UserError(f"model {name} was never trained: run `dvc repro train@{name}` "
                        f"(no {path / models.META})")
    return models.load(path)


def load_verifier(verifier=None, default: str = DEFAULT_VERIFIER):
    """The part verifier to cut with, or None for none: as given, `models/part_verifier/` when
    None and that is trained, none for "none", else `models/<name>/` or a folder. With
    `default` DEFAULT_PAIRS: the pair reader, the same way."""
    if verifier is not None and not isinstance(verifier, (str, Path)):
        return verifier
    if verifier is None or str(verifier) == "none":
        path = MODELS_DIR / default
        if verifier is not None or not (path / "verifier.json").exists():
            return None
    else:
        path = Path(verifier) if (Path(verifier) / "verifier.json").exists() else MODELS_DIR / str(verifier)
    from recipes.handwriting import pairs, verify
    return verify.load(path, pairs.PairReader if default == DEFAULT_PAIRS else verify.PartVerifier)


def whole_digit(verifier):
    """For preprocess.page: what a part's reading gains for being one whole digit."""
    if verifier is None:
        return None
    from recipes.handwriting import verify
    return lambda X: verify.WEIGHT * verify.whole_logp(verifier, X)


def probabilities(page: preprocess.Page, model) -> np.ndarray:
    return np.asarray(model.predict_proba(page.X), np.float32)


def read_page(source, model=None, verifier=None, pairs=None) -> tuple[preprocess.Page, np.ndarray]:
    """(page, float32 [n_digits, 10]): the classifier also chooses where touching digits part,
    with the part verifier when there is one (`load_verifier`), and the pair reader reads
    what no cut parts (`read_pairs`). UserError "no digits found" when the page holds none
    (see `lone_mark`)."""
    model = load_model(model)
    verifier, reader = load_verifier(verifier), load_verifier(pairs, DEFAULT_PAIRS)
    once = _LastAnswer(verifier) if verifier is not None else None   # both terms ask it
    page = preprocess.page(source, classify=model.predict_proba, verify=whole_digit(once),
                           pair=two_digits(once, reader))
    proba = probabilities(page, model)
    lone_mark(page, proba, confident_for(model))
    return page, read_pairs(page, proba, verifier, reader)


class _LastAnswer:
    """A net whose answer for the input it was last given (the same array) is kept: the cut
    search asks the verifier about each batch of parts twice, for their reading as one digit
    (whole_digit) and as two (two_digits)."""

    def __init__(self, net):
        self.net, self.last = net, (None, None)

    def predict_proba(self, X):
        if self.last[0] is not X:
            self.last = (X, self.net.predict_proba(X))
        return self.last[1]


def two_digits(verifier, reader):
    """For preprocess.page: a part's reading as two overlapping digits, beside its reading
    as one (whole_digit): the pair reader's best pair, plus WEIGHT x log P(several digits);
    none (-inf) where the verifier calls it no pair (under pairs.SEVERAL) or the pair
    reader is unsure of it (under pairs.SURE). Where it reads better than every cut, the
    cut search keeps the part whole, and read_pairs reads its two digits: a cut between
    digits that overlap leaves a digit with its neighbour's piece, read as one digit."""
    if verifier is None or reader is None:
        return None
    from recipes.handwriting import pairs, verify

    def option(X, squares):
        several = np.asarray(verifier.predict_proba(X), np.float64)[:, verify.SEVERAL]
        best = np.asarray(reader.predict_proba(squares), np.float64)[:, :pairs.ONE].max(1)
        logp = np.log(np.maximum(best, 1e-9)) + verify.WEIGHT * np.log(np.maximum(several, 1e-9))
        return np.where((several >= pairs.SEVERAL) & (best >= pairs.SURE), logp, -np.inf)
    return option


def read_pairs(page: preprocess.Page, proba: np.ndarray, verifier, reader) -> np.ndarray:
    """`proba` with each part that holds two digits no cut could part (two overlapping
    digits) read as those two: a part the verifier calls several digits (at least
    pairs.SEVERAL; every part without a verifier) whose squeezed input the pair reader reads
    as a pair (its best at least pairs.SURE, above its "one digit") becomes two digits,
    each with its marginal probabilities; `page` gets their boxes and lines."""
    if reader is None or not len(proba):
        return proba
    from recipes.handwriting import pairs, verify
    ask = np.arange(len(proba))
    if verifier is not None:
        several = np.asarray(verifier.predict_proba(page.X))[:, verify.SEVERAL]
        ask = ask[several >= pairs.SEVERAL]
    if not len(ask):
        return proba
    P = np.asarray(reader.predict_proba(page.squares[ask].reshape(len(ask), -1)), np.float64)
    rows = list(proba)
    for k, p in sorted(zip(ask.tolist(), P), key=lambda t: -t[0]):  # from the right: k stays put
        left, right, best = pairs.as_two(p)
        if best >= pairs.SURE and best > p[pairs.ONE]:
            rows[k:k + 1] = [left, right]
            _as_two(page, k)
    return np.stack(rows).astype(np.float32)


def _as_two(page: preprocess.Page, k: int) -> None:
    """Digit k of `page` becomes two side by side: its box halved, its squeezed input shown
    for both, every later index moved on by one."""
    x0, y0, x1, y1 = page.boxes[k]
    mid = (x0 + x1) // 2
    page.boxes[k:k + 1] = [(x0, y0, mid, y1), (mid, y0, x1, y1)]
    page.inputs = np.insert(page.inputs, k + 1, page.squares[k], axis=0)
    page.inputs[k] = page.squares[k]
    page.squares = np.insert(page.squares, k + 1, page.squares[k], axis=0)
    page.lines = [[i + (i > k) for i in line] + ([k + 1] if k in line else []) for line in page.lines]
    page.lines = [sorted(line) for line in page.lines]


def lone_mark(page: preprocess.Page, proba: np.ndarray, confident: float) -> None:
    """UserError "no digits found" for a photo whose one digit-sized mark the classifier reads
    as no digit in particular: below LONE of the most it can say (`confident` / CONFIDENT).
    Segmentation judges marks by shape; what is left of an object on a page with nothing
    written (a cup's handle, a corner of the sheet against the desk) is one mark, and a
    guess at it is worse than saying so. A number's unsure digit is still read, and so is
    anything drawn on flat paper: the pad has no clutter."""
    if len(proba) != 1 or page.drawing:
        return
    best = float(proba[0].max())
    floor = LONE * confident / CONFIDENT
    if best < floor:
        raise preprocess.NoDigits(f"no digits found: the one mark on the image reads as no digit "
                                  f"(at best a {int(proba[0].argmax())} at {best:.2f}, under "
                                  f"{floor:.2f})", page, proba)


def digit_probabilities(source, model=None, verifier=None, pairs=None) -> np.ndarray:
    """float32 [n_digits, 10]: each digit's probabilities, in reading order."""
    return read_page(source, model, verifier, pairs)[1]


def read_lines(source, model=None, verifier=None, pairs=None) -> list[str]:
    """One string per line of digits, top to bottom: leading zeros count."""
    page, proba = read_page(source, model, verifier, pairs)
    return lines_of(page, proba)


def read_digits(source, model=None, verifier=None, pairs=None) -> str:
    """The number(s) written on a photo (path or array): lines separated by a space."""
    return " ".join(read_lines(source, model, verifier, pairs))


def lines_of(page: preprocess.Page, proba: np.ndarray) -> list[str]:
    digits = proba.argmax(1)
    lines = page.lines or [list(range(len(proba)))]
    return ["".join(str(int(digits[k])) for k in line) for line in lines]


def as_string(proba: np.ndarray, page: preprocess.Page | None = None) -> str:
    if page is None:
        return "".join(str(int(d)) for d in proba.argmax(1))
    return " ".join(lines_of(page, proba))


def confident_for(model) -> float:
    """CONFIDENT of the most the model can say: a net trained with label smoothing e puts at
    most 1 - 0.9 e on a digit (0.91 for e = 0.1), where CONFIDENT alone would doubt nearly
    every digit it reads."""
    members = getattr(model, "estimators_", None)  # a committee's mean tops out at its members' mean
    if members and getattr(model, "combine", "mean") == "mean":
        return float(np.mean([confident_for(m) for m in members]))
    smoothing = getattr(model, "label_smoothing", 0.0) or 0.0
    return CONFIDENT * (1 - 0.9 * float(smoothing))


def unsure(proba: np.ndarray, confident: float = CONFIDENT) -> list[int]:
    """Indices of the digits read with less than `confident`."""
    return [int(k) for k in np.flatnonzero(proba.max(1) < confident)]


def describe(proba: np.ndarray, confident: float = CONFIDENT) -> str:
    return ", ".join(f"{d} {p:.2f}" + ("?" if p < confident else "")
                     for d, p in zip(proba.argmax(1), proba.max(1)))


# ---- drawings ------------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


LINE_COLOURS = ["red", "deepskyblue", "lime", "magenta", "yellow", "orange"]


def _boxes(ax, page: preprocess.Page, color=None) -> None:
    from matplotlib.patches import Rectangle
    line_of = {k: n for n, line in enumerate(page.lines) for k in line}
    for k, (x0, y0, x1, y1) in enumerate(page.boxes):
        c = color or LINE_COLOURS[line_of.get(k, 0) % len(LINE_COLOURS)]
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor=c, linewidth=1.5))
        ax.text(x0, y0 - 2, str(k + 1), color=c, fontsize=8, va="bottom")


def _rejected(ax, page: preprocess.Page) -> None:
    from matplotlib.patches import Rectangle
    for k, ((x0, y0, x1, y1), why) in enumerate(page.rejected[:40]):
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor="orange", linewidth=1, linestyle="--"))
        ax.text(x0, y1 + 2, chr(ord("a") + k % 26), color="orange", fontsize=7, va="top")


def debug_figure(page: preprocess.Page, proba: np.ndarray, path, title: str = "",
                 confident: float = CONFIDENT, verdict: str | None = None) -> None:
    """Every step for one photo: the working copy, the ink, the mask with the lines (one
    colour each) and the rejected components (dashed, lettered, why in the list), each input.
    `verdict`: the headline (default: what was read)."""
    plt = _pyplot()
    n = len(page.inputs)
    cols = max(4, n)
    fig = plt.figure(figsize=(max(12, 1.4 * cols), 7.5))
    grid = fig.add_gridspec(2, 4 * cols, height_ratios=[2.2, 1])
    look = ""
    if page.region:  # small digits: the steps are those of the second look
        y0, x0, f, _ = page.region
        look = f",\nsmall digits: the region at x={x0}, y={y0}, {f:.1f}x"
    steps = [(page.gray, "photo (grayscale)" + look),
             (page.ink, f"ink against the paper ({'dark' if page.dark_ink else 'light'} ink)"),
             (page.mask, f"mask (cut {page.threshold:.2f}): {n} digits in {len(page.lines)} "
                         f"line(s), digit height {page.height:.0f} px"
                         + (f",\nlines levelled by {page.angle:.0f} degrees" if page.angle else ""))]
    for k, (img, name) in enumerate(steps):
        ax = fig.add_subplot(grid[0, k * cols:(k + 1) * cols])
        ax.imshow(img, cmap="gray")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        if k == 2:
            _boxes(ax, page)
            _rejected(ax, page)
    ax = fig.add_subplot(grid[0, 3 * cols:])
    ax.axis("off")
    why = [f"{chr(ord('a') + k % 26)}: {r}" for k, (_, r) in enumerate(page.rejected[:40])]
    why.append(f"{page.specks} specks dropped")
    ax.text(0, 1, "rejected\n" + "\n".join(why), fontsize=7, va="top", family="monospace")
    for k in range(n):
        ax = fig.add_subplot(grid[1, 4 * k:4 * k + 4] if 4 * k + 4 <= 4 * cols else grid[1, -4:])
        ax.imshow(page.inputs[k], cmap="gray", vmin=0, vmax=255)
        p = proba[k].max()
        ax.set_title(f"{proba[k].argmax()} ({p:.2f}{'?' if p < confident else ''})", fontsize=9,
                     color="black" if p >= confident else "red")
        ax.axis("off")
    verdict = verdict or f"read {as_string(proba, page)}"
    fig.suptitle(f"{title}: {verdict}" if title else verdict, wrap=True)
    _save(fig, path)


def gallery(misread: list[dict], path) -> None:
    """One row per misread image: the photo with its boxes, then its inputs and readings."""
    plt = _pyplot()
    if not misread:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "nothing misread", ha="center", va="center")
        _save(fig, path)
        return
    cols = 1 + max([1] + [len(m["page"].inputs) for m in misread if m["page"] is not None])
    fig, axes = plt.subplots(len(misread), cols, figsize=(2 + 1.1 * cols, 1.6 * len(misread)),
                             squeeze=False)
    for row, m in zip(axes, misread):
        for ax in row:
            ax.axis("off")
        page = m["page"]
        read = m["read"] or "-"
        read = read if len(read) <= 40 else read[:39] + "\u2026"  # a page of grain reads on and on
        row[0].set_title(f"{m['file']}\nlabel {m['label']}, read {read}", fontsize=7, loc="left")
        if page is None:
            row[0].text(0, 0.5, m.get("error", ""), fontsize=6, wrap=True)
            continue
        row[0].imshow(page.gray, cmap="gray")
        _boxes(row[0], page)
        if "error" in m:  # read as holding no digit: what was rejected, and why
            _rejected(row[0], page)
            row[1].text(0, 0.5, m["error"], fontsize=6, wrap=True)
            continue
        for k, img in enumerate(page.inputs):
            row[k + 1].imshow(img, cmap="gray", vmin=0, vmax=255)
            p = np.asarray(m["probabilities"][k])
            flat = m["label"].replace(" ", "")
            want = flat[k] if len(flat) == len(page.inputs) else "?"
            color = "green" if str(p.argmax()) == want else "red"
            row[k + 1].set_title(f"{p.argmax()} {p.max():.2f}", fontsize=8, color=color)
    # margins in inches, not tight_layout: a file name wider than its column made that give
    # up and leave matplotlib's default margins, a tenth of a tall gallery blank at each end
    height = 1.6 * len(misread)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.45 / height, bottom=0.1 / height,
                        hspace=0.6)
    _save(fig, path, tight=False)


def _save(fig, path, tight: bool = True) -> None:
    plt = _pyplot()
    if tight:
        fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


# ---- evaluation ------------------------------------------------------------------------

def labelled_images(folder) -> list[tuple[Path, str]]:
    """(path, label) for each file whose name starts with `<label>_`, sorted by name; the
    label's lines joined by a space, `none` for a page without digits."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    found = [(p, LABELLED.match(p.name).group(1).replace("-", " ")) for p in sorted(folder.iterdir())
             if LABELLED.match(p.name) and not p.is_dir()]
    if not found:
        raise UserError(f"{folder}: no image named <label>_... (e.g. 7_mine.png) to evaluate")
    return found


def _tags(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        return {p["file"]: p["tags"] for p in manifest["pages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def evaluate(folder, model=None, out=DEFAULT_OUT, quiet: bool = False,
             confident: float | None = None, verifier=None, pairs=None) -> dict:
    """Read every labelled image of `folder`; write the JSON report and misread gallery.
    `confident`: below it a digit is unsure (default: `confident_for` the model)."""
    folder = Path(folder)
    images = labelled_images(folder)
    loaded = load_model(model)
    checker = load_verifier(verifier)
    reader = load_verifier(pairs, DEFAULT_PAIRS)
    if confident is None:
        confident = confident_for(loaded)
    tags = _tags(folder)
    entries, misread = [], []
    for path, label in images:
        entry = {"file": path.name, "label": label, "read": None, "probabilities": []}
        page = None
        try:
            page, proba = read_page(path, loaded, checker if checker is not None else "none",
                                    reader if reader is not None else "none")
            entry["read"] = as_string(proba, page)
            entry["probabilities"] = np.round(proba.astype(np.float64), 4).tolist()
            entry["unsure"] = unsure(proba, confident)
        except UserError as e:
            msg = str(e)
            nothing = isinstance(e, preprocess.NoDigits)
            page = e.page if nothing else None  # the gallery shows what was rejected
            if label == "none" and nothing:
                entry["read"] = "none"
            else:
                entry["error"] = msg if msg.startswith(path.name) else f"{path.name}: {msg}"
                if not quiet:
                    print(f"error: {entry['error']}", file=sys.stderr)
        entry["exact"] = entry["read"] == label
        if path.name in tags:
            entry["tags"] = tags[path.name]
        entries.append(entry)
        if not entry["exact"]:
            misread.append({**entry, "page": page})
    report = summary(entries)
    out = Path(out)
    name = str(model) if isinstance(model, (str, Path)) else getattr(model, "name", type(model).__name__)
    report = {"folder": str(folder), "model": name,
              "verifier": None if checker is None else getattr(checker, "name_", "part verifier"),
              "pair_reader": None if reader is None else getattr(reader, "name_", "pair reader"),
              "confident": confident, **report, "gallery": str(gallery_path(out)),
              "results": entries}
    write_text(out, json.dumps(report, indent=2) + "\n")
    gallery(misread[:60], gallery_path(out))
    return report


def summary(entries: list[dict]) -> dict:
    """Exact-number and digit rates, unsure digits, reliability, and rates per tag."""
    right = sum(e["exact"] for e in entries)
    # digits are compared place by place only where as many were found as were written
    digits = [e for e in entries if e["label"] != "none"]
    same = [e for e in digits if e["read"] is not None and len(e["read"]) == len(e["label"])]
    digits_total = sum(len(e["label"].replace(" ", "")) for e in digits)
    digits_right = sum(a == b for e in same for a, b in zip(e["read"], e["label"]) if a != " ")
    sure = [e for e in entries if e["read"] not in (None, "none") and not e.get("unsure")]
    rep = {
        "images": len(entries), "exact": right, "exact_rate": round(right / len(entries), 4),
        "digits": digits_total, "digits_right": digits_right,
        "digit_rate": round(digits_right / max(digits_total, 1), 4),
        "unreadable": sum("error" in e for e in entries),
        "unsure_digits": sum(len(e.get("unsure", [])) for e in entries),
        "read_sure": len(sure),
        "wrong_among_sure": sum(not e["exact"] for e in sure),
        "wrong_rate_among_sure": round(sum(not e["exact"] for e in sure) / max(len(sure), 1), 4),
    }
    by_tag: dict = {}
    for e in entries:
        for t in e.get("tags", []):
            by_tag.setdefault(t, []).append(e["exact"])
    if by_tag:
        rep["by_tag"] = {t: {"pages": len(v), "exact_rate": round(sum(v) / len(v), 4)}
                         for t, v in sorted(by_tag.items())}
    return rep


def gallery_path(out) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}_misread.png")


# ---- command line ----------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="mnist-read", description="Read handwritten digits from photos with a trained model.")
    ap.add_argument("images", nargs="*", metavar="IMAGE", help="photos or scans to read")
    ap.add_argument("--model", default=None,
                    help="a model trained into models/NAME/, or a model folder (default: the first "
                         f"trained of {', '.join(DEFAULT_MODELS)})")
    ap.add_argument("--verifier", default=None, metavar="NAME|none",
                    help="the part verifier the cuts between touching digits ask (default: "
                         f"models/{DEFAULT_VERIFIER}/ when trained; none: without one)")
    ap.add_argument("--pairs", default=None, metavar="NAME|none",
                    help="the pair reader that reads two overlapping digits no cut parts (default: "
                         f"models/{DEFAULT_PAIRS}/ when trained; none: without one)")
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
    for flag, value in (("--out", args.out), ("--debug", args.debug)):
        if value and Path(value).is_dir():
            raise UserError(f"{flag} {value}: is a folder; give a file name in it")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    model = load_model(args.model)
    checker = load_verifier(args.verifier)
    use = checker if checker is not None else "none"
    reader = load_verifier(args.pairs, DEFAULT_PAIRS)
    pair_use = reader if reader is not None else "none"
    failed = 0
    for k, image in enumerate(args.images):
        try:
            page, proba = read_page(image, model, use, pair_use)
        except UserError as e:
            msg = str(e) if str(e).startswith(str(image)) else f"{image}: {e}"
            if args.debug and k == 0 and isinstance(e, preprocess.NoDigits):
                # a page read as holding no digit: the steps say why (what was rejected)
                debug_figure(e.page, e.proba, args.debug, title=Path(image).name,
                             confident=confident_for(model), verdict=str(e))
            if len(args.images) == 1 and not args.evaluate:
                raise UserError(msg) from None
            print(f"error: {msg}", file=sys.stderr)
            failed += 1
            continue
        doubt = unsure(proba, confident_for(model))
        note = f"  [{len(doubt)} unsure]" if doubt else ""
        print(f"{image}: {as_string(proba, page)}  ({describe(proba, confident_for(model))}){note}")
        if args.debug and k == 0:
            debug_figure(page, proba, args.debug, title=Path(image).name,
                         confident=confident_for(model))
            print(f"debug drawing: {args.debug}", file=sys.stderr)
    if args.evaluate:
        out = args.out or DEFAULT_OUT
        report = evaluate(args.evaluate, model, out, verifier=use, pairs=pair_use)
        print(f"{args.evaluate}: {report['exact']}/{report['images']} read exactly "
              f"({report['exact_rate']:.1%}), digits {report['digit_rate']:.1%}, "
              f"{report['unsure_digits']} digits unsure (< {report['confident']:.3g}), wrong among sure "
              f"{report['wrong_among_sure']}/{report['read_sure']}; report {out}, "
              f"misread {report['gallery']}")
        if report["unreadable"]:
            raise UserError(f"{report['unreadable']} of {report['images']} images of "
                            f"{args.evaluate} were unreadable (see {out})")
    if failed:
        sys.exit(1)


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()
