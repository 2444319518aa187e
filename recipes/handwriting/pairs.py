"""The pair reader: two digits written over each other, read together.

The cut search (`segment.split_wide`) parts touching digits along a path between them.
Digits whose strokes run along or across each other (a 7's bar through a 0, two 6s whose
loops sit side by side) leave no such path: the part stays whole, and the digit model
reads one of the two, often surely. The part verifier (`verify`) does see that such a
part holds several digits; the pair reader reads them. It is a small net trained on what
such a part looks like to the reader: two of the training split's digits (a share of
them pen-drawn, as the verifier's), written touching or overlapping by up to OVERLAP of
the narrower one's width (`verify.write`), squeezed into a square (`ink.square`) and labelled
10 a + b for a on the left; and single digits squeezed the same way, a class of their
own (ONE), so that it can say a part is no pair: alone, touching a box's side (`framed`),
or with a piece of its neighbour that a cut left on it (`pieced`).

The reader (`read.read_page`) asks it about each part the verifier calls several digits
(at least SEVERAL): a part read as a pair (its best pair at least SURE and above ONE)
becomes two digits, each with its marginal probabilities.

    python -m recipes.stages.verifier pair_reader    # what dvc repro runs (train.verifiers)
"""

from __future__ import annotations

import numpy as np

from recipes.handwriting import filters, synth, verify
from recipes.handwriting.ink import square

ONE = 100            # the class of a part holding one digit; 0..99 are the pairs 10 a + b
KINDS = ("pair", "one", "framed", "pieced")   # examples: two digits; one digit alone, touching
KIND_P = (0.6, 0.14, 0.13, 0.13)              # a box's side, or with a piece of its neighbour
OVERLAP = 0.6        # pairs overlap by up to this share of the narrower digit's width
PIECE = (0.1, 0.35)  # a neighbour's piece left on a digit by a cut: this share of its width
SEVERAL = 0.5        # the verifier's P(several digits) from which the reader asks, and the
SURE = 0.8           # best pair's probability it needs to be read as two (chosen on the dev
#                      pages: the middle of the plateau; reports/handwriting/README.md)


class PairReader(verify.PartVerifier):
    """A NetClassifier of 101 classes: the pairs 00..99 and ONE; saved and loaded as a
    verifier is (`verify.save`, `verify.load`)."""

    kind = "pair_reader"
    title = "pair reader"
    n_outputs = ONE + 1


def examples(X: np.ndarray, y: np.ndarray, groups: int, seed: int,
             first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, 784], int64 [n] classes) of examples first..first+groups-1 written with
    the digits (X, y), each from its own seed (seed, k), as `verify.parts` draws its groups."""
    digits = synth.Digits(X, y, variants=verify.PEN_SHARE, drawn=synth.pen_digit)
    out_X, out_y = [], []
    for k in range(first, first + groups):
        rng = np.random.default_rng([seed, k])
        kind = KINDS[int(rng.choice(len(KINDS), p=KIND_P))]
        ink, owner, h, labels = verify.write(digits, rng, 1 if kind in ("one", "framed") else 2, OVERLAP)
        region = pieced(owner, rng) if kind == "pieced" else owner >= 0
        if not region.any():
            continue
        rows, cols = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
        ink = np.pad((ink * filters.dilate(region))[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1)
        if kind == "framed":
            ink = framed(ink, h, rng)
        out_X.append(square(ink).reshape(-1))
        out_y.append(10 * labels[0] + labels[1] if kind == "pair" else ONE)
    if not out_X:
        return np.zeros((0, 784), np.uint8), np.zeros(0, np.int64)
    return np.stack(out_X), np.array(out_y, np.int64)


def pieced(owner: np.ndarray, rng) -> np.ndarray:
    """Of two touching digits (`owner`, as verify.write gives it), one whole and the piece
    of the other that a cut too far over leaves on it: PIECE of its width, from the side
    that meets the first (bool mask). A part like this is no pair: one digit, misread."""
    whole = int(rng.integers(2))
    other = owner == 1 - whole
    xs = np.flatnonzero(other.any(0))
    reach = rng.uniform(*PIECE) * (xs[-1] - xs[0] + 1)
    x = np.arange(owner.shape[1])
    near = x < xs[0] + reach if whole == 0 else x > xs[-1] - reach
    return (owner == whole) | (other & near[None, :])


def framed(ink: np.ndarray, h: float, rng) -> np.ndarray:
    """`ink` (one digit) with the side of a box touching it on the left or the right: a
    straight bar a little taller than the digit, often with the stubs of the box's top and
    bottom. Segmentation opens out most of a box; a side that touches a digit stays, and a
    bar beside a digit is otherwise what a 1 beside it looks like."""
    H, W = ink.shape
    t = max(2, int(round(rng.uniform(0.04, 0.1) * h)))      # the box's pen
    above, below = (int(rng.integers(0, int(0.15 * h) + 2)) for _ in range(2))
    cols = np.flatnonzero(ink.max(0) > 0.5)
    left = rng.random() < 0.5
    into = int(rng.integers(0, max(1, int(0.08 * W)) + 1))  # the bar overlaps the digit's edge
    out = np.pad(ink, ((above, below), (t, t)))
    x = (cols[0] + into) if left else (cols[-1] + t - into)   # the digit sits t to the right
    x = int(np.clip(x, 0, out.shape[1] - t))
    out[:, x:x + t] = 1.0
    if rng.random() < 0.5:   # the corners' stubs, reaching over the digit
        reach = int(rng.uniform(0.2, 1.0) * W)
        span = slice(x, min(out.shape[1], x + reach)) if left else slice(max(0, x + t - reach), x + t)
        out[:t, span] = 1.0
        out[-t:, span] = 1.0
    keep = np.flatnonzero(out.max(0) > 0)
    return out[:, keep[0]:keep[-1] + 1]


def as_two(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A part's 101 probabilities -> the left and the right digit's probabilities (the
    pairs' marginals, float32 [10] each) and the best pair's probability."""
    pairs = p[:ONE].reshape(10, 10)
    total = max(float(pairs.sum()), 1e-9)
    return ((pairs.sum(1) / total).astype(np.float32), (pairs.sum(0) / total).astype(np.float32),
            float(pairs.max()))
