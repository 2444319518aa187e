"""The part verifier: is a part the reader may cut out of a group of ink one whole digit?

The reader chooses where touching digits part by reading every candidate part with the
digit model (`segment.split_wide`). A digit model was only ever shown one digit at a time:
it reads two overlapping 7s as a 7 as surely as either 7 alone, and the left half of a 4
as a 1. The verifier is a small net trained on what the cut search looks at: groups of one
to three of the training split's digits (a share of them pen-drawn, `synth.pen_digit`),
written touching or overlapping, cut where the reader would cut them (`segment.cut_paths`),
each part labelled by what it holds:

    0  a piece: part of a digit, or a digit with a piece of its neighbour
    1  one whole digit
    2  several digits (each mostly there)

The reader adds WEIGHT x log P(one whole digit) to each part's reading, so a cut pays
where the whole is not one digit, and a piece costs what it should.

    python -m recipes.stages.verifier part_verifier      # what dvc repro runs (train.verifiers)
    >>> v = verify.load("models/part_verifier"); verify.whole_logp(v, X)   # X: uint8 [n, 784]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from recipes.errors import UserError
from recipes.handwriting import filters, segment, synth
from recipes.handwriting.ink import to_mnist
from recipes.nets import NetClassifier

PIECE, ONE, SEVERAL = 0, 1, 2
LABELS = ("piece", "one digit", "several digits")
META = "verifier.json"   # not models' model.json: a verifier is no digit model (the server
#                          lists folders holding a model.json)
WEIGHT = 0.5         # log P(one whole digit) x this joins a part's reading (chosen on the dev pages)
PEN_SHARE = 0.1      # of the 1, 2, 4, 7 and 9 drawn with synth.pen_digit, as the photos stage does
SIZES = (1, 2, 3)    # digits in a group...
SIZE_P = (0.35, 0.45, 0.2)   # ...drawn with these chances
OVERLAP = 0.35       # neighbours overlap by up to this share of the narrower one's width
HEIGHT = (36, 90)    # pixels: a digit's height in the reader's working copy
MAX_PARTS = 12       # parts kept per group (the whole group always): a three-digit group has dozens
WHOLE = 0.85         # a part holding this share of one digit's ink...
STRAY = 0.1          # ...and no more than this share of its own ink from others: one digit
MOSTLY = 0.6         # two digits each this much there: several


class PartVerifier(NetClassifier):
    """A NetClassifier of three classes (PIECE, ONE, SEVERAL) instead of the ten digits."""

    kind = "part_verifier"
    title = "part verifier"   # what its files are called in messages
    n_outputs = len(LABELS)


def group(digits: synth.Digits, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """A group of one to three digits written as the photos stage writes a line, touching
    or overlapping: (ink float [H, W] in 0..1, owner int [H, W]: the digit each ink pixel
    belongs to, -1 off the ink; the digits' height)."""
    n = int(rng.choice(SIZES, p=SIZE_P))
    return write(digits, rng, n)[:3]


def write(digits: synth.Digits, rng, n: int, overlap: float = OVERLAP
          ) -> tuple[np.ndarray, np.ndarray, float, list]:
    """`group` of n digits, neighbours overlapping by up to `overlap` of the narrower one's
    width, and the digits' labels left to right."""
    h = int(rng.integers(*HEIGHT))
    pen = rng.uniform(0.55, 1.5)
    placed, x, prev, labels = [], 0, 0, []
    for k in range(n):
        labels.append(int(rng.integers(10)))
        img, _ = digits.one(labels[-1], rng)
        hd = int(round(h * rng.uniform(0.88, 1.08)))
        wd = max(2, int(round(img.shape[1] * hd / img.shape[0] * rng.uniform(0.85, 1.15))))
        img = synth._pen(synth._resize(img, hd, wd), hd, pen)
        dy = int(round(h * rng.uniform(-0.05, 0.05))) + (h - hd)
        if k:
            x -= int(rng.uniform(0.0, overlap) * min(prev, img.shape[1])) + 1
        placed.append((img, x, dy))
        x, prev = x + img.shape[1], img.shape[1]
    top = min(dy for _, _, dy in placed)
    H = max(dy + p.shape[0] for p, _, dy in placed) - top
    W = max(x0 + p.shape[1] for p, x0, _ in placed)
    layers = np.zeros((n, H + 2, W + 2), np.float32)  # a pixel's margin, as the reader pads
    for k, (p, x0, dy) in enumerate(placed):
        layers[k, dy - top + 1:dy - top + 1 + p.shape[0], x0 + 1:x0 + 1 + p.shape[1]] = p
    ink = layers.max(0)
    owner = np.where(ink > 0.5, layers.argmax(0), -1)
    return ink, owner, float(h), labels


def label(part: np.ndarray, owner: np.ndarray, totals: np.ndarray) -> int:
    """PIECE, ONE or SEVERAL for a part (bool mask) of a group whose ink `owner` gives."""
    held = np.bincount(owner[part & (owner >= 0)], minlength=len(totals))
    share = held / np.maximum(totals, 1)
    if (share >= MOSTLY).sum() >= 2:
        return SEVERAL
    stray = (held.sum() - held.max()) / max(held.sum(), 1)
    return ONE if share.max() >= WHOLE and stray <= STRAY else PIECE


def group_parts(ink: np.ndarray, owner: np.ndarray, ref: float, rng) -> tuple[list, list]:
    """The parts the cut search would read in this group, as 28x28 inputs, and their labels."""
    region = owner >= 0
    totals = np.bincount(owner[region], minlength=owner.max() + 1)
    cuts, _ = segment.cut_paths(region, ref)
    n, part = len(cuts) + 2, segment.parts_between(region, cuts)   # as split_wide's parts
    spans = [(i, j) for i in range(n - 1) for j in range(i + 1, n) if (i, j) != (0, n - 1)]
    if len(spans) > MAX_PARTS - 1:
        spans = [spans[k] for k in sorted(rng.choice(len(spans), MAX_PARTS - 1, replace=False))]
    X, y = [], []
    for i, j in [(0, n - 1)] + spans:
        m = part(i, j)
        if not m.any() or segment._width(m) < segment.PART_MIN * ref:
            continue
        X.append(part_input(ink, m))
        y.append(label(m, owner, totals))
    return X, y


def part_input(ink: np.ndarray, part: np.ndarray) -> np.ndarray:
    """uint8 [784]: a part as the reader feeds it to a model (preprocess._input, unslanted)."""
    rows, cols = np.flatnonzero(part.any(1)), np.flatnonzero(part.any(0))
    p = np.pad(part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1)
    crop = np.pad(ink, 1)[rows[0]:rows[0] + p.shape[0], cols[0]:cols[0] + p.shape[1]]
    return to_mnist(crop * filters.dilate(p)).reshape(-1)


def parts(X: np.ndarray, y: np.ndarray, groups: int, seed: int,
          first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, 784], uint8 [n] labels) of groups first..first+groups-1 written with the
    digits (X, y); each group drawn from its own seed (seed, k), so any slice of groups
    comes out the same however the work is split."""
    digits = synth.Digits(X, y, variants=PEN_SHARE, drawn=synth.pen_digit)
    out_X, out_y = [], []
    for k in range(first, first + groups):
        rng = np.random.default_rng([seed, k])
        ink, owner, h = group(digits, rng)
        if owner.max() < 0:
            continue
        gx, gy = group_parts(ink, owner, h, rng)
        out_X += gx
        out_y += gy
    if not out_X:
        return np.zeros((0, 784), np.uint8), np.zeros(0, np.uint8)
    return np.stack(out_X).astype(np.uint8), np.array(out_y, np.uint8)


def whole_logp(verifier, X: np.ndarray) -> np.ndarray:
    """float64 [n]: log P(one whole digit) of each part (uint8 [n, 784])."""
    proba = np.asarray(verifier.predict_proba(X), np.float64)[:, ONE]
    return np.log(np.maximum(proba, 1e-9))


# ---- files: net.pt (a state_dict, read with weights_only=True) and verifier.json ------------

def save(verifier: PartVerifier, path: str | os.PathLike, name: str, metrics: dict) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    learned = verifier.save_state(path)
    meta = {"kind": verifier.kind, "name": name, "params": verifier.get_params(),
            "labels": list(LABELS), "metrics": metrics, "learned": learned}
    (path / META).write_text(json.dumps(meta, indent=2) + "\n")


def load(path: str | os.PathLike, cls: type = PartVerifier) -> PartVerifier:
    """The verifier (or `cls`: a pair reader) `save` wrote; one-line UserError for anything else."""
    path = Path(path)
    train = f"`dvc exp run -S 'train.verifiers=[{path.name}]'`"
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no {cls.title} here (missing {META}): train it with {train}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path / META}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("kind") != cls.kind:
        raise UserError(f"{path / META}: not a {cls.title}'s file (kind {meta.get('kind')!r})"
                        if isinstance(meta, dict) else f"{path / META}: not a {cls.title}'s file")
    try:
        v = cls(**meta.get("params", {}))
        v.load_state(path, meta.get("learned", {}))
    except UserError:
        raise
    except FileNotFoundError as e:
        raise UserError(f"{path}: incomplete {cls.title} folder ({Path(e.filename).name} missing); "
                        f"train it again ({train})") from None
    except Exception as e:  # foreign or truncated weights, unknown params
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise UserError(f"{path}: the {cls.title} cannot be read ({reason}); train it again "
                        f"({train})") from None
    v.name_ = meta.get("name", path.name)
    return v
