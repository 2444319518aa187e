"""Digits found on a page's ink mask: judged among themselves, grouped, lined up, split.

A photo holds more than digits: a desk's edge, a phone, a shadow, ruled lines, a box.
None of these is judged against the largest thing in the frame; every component is
judged against the page's *typical digit* instead: the area-weighted median height of
the components that look like strokes (thin for their size, not touching the border,
not a long straight line). Then

1. straight lines far longer than any digit stroke (ruled paper, a box, an underline)
   are opened out of the mask, along a few slopes, so that digits touching them stand free;
2. each component is kept or rejected with a reason: a speck, a solid blob (a stroke
   far wider than the page's pen), a straight line, something far taller than the digits,
   or a large thing at the border of the frame;
3. the pieces of one digit (a 5's flag, a stroke cut by a ruled line) are merged: boxes
   overlapping horizontally (their columns along the writing's slant), close vertically,
   one of them short; a group much smaller
   than the typical digit is a dot, not a digit;
4. lines: groups overlapping vertically are one line; lines are read top to bottom, each
   left to right; a page whose lines run at a slant is levelled (by the caller) first;
5. touching digits are split: two loops side by side are two digits; a group wider than a
   digit can be, or, with a classifier, any group whose ink has a narrow waist, is cut at
   the waists that the classifier reads most confidently, a cut costing CUT_COST in
   log-probability so that a clear single digit stays whole. A cut is a straight line along
   the writing's slant, or a path that bends round the strokes' ends where digits overlap
   in their columns (a 7's bar over the 0 beside it).

Everything is whole-array numpy/scipy; Python loops run over digits or candidate cuts.
The number of components looked at is capped, so any photo is read or refused in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from recipes.errors import UserError
from recipes.handwriting import filters
from recipes.handwriting.ink import stroke_width

MIN_AREA = 10        # pixels: anything smaller is dust, whatever the page
MIN_HEIGHT = 8       # pixels: the smallest digit group read (a working copy is >= 256 px)
MAX_COMPONENTS = 3000  # only the largest this many components are judged at all...
MAX_DIGITS = 300     # ...and a page with more digit-like groups than this is refused
STROKE_LIKE = 0.3    # a digit's stroke is at most this fraction of its height...
LINE_LIKE = 2.5      # ...and it is at most this many times wider than tall
SPECK = 0.12         # a component whose longer side is below this x typical height: a speck
BLOB = 3.5           # a stroke this many times the page's typical stroke (a digit gone over with a
                     # bolder pen: about 2.8; dev pages 3.0-5.0 alike): a solid blob...
SOLID = 0.4          # a stroke this fraction of a mark's longer side: solid, whatever the pen...
SOLID_PX = 40        # ...if it is this many pixels long (a small mark's stroke is overestimated)
HAIRLINE = 0.25      # ...this fraction of it: a hairline (a sheet's edge, a faint rule; a digit's
                     # thin bar, broken off, is about 0.3: chosen on the dev pages)
TALL = 2.2           # this many times the typical height: not a digit (a box, an object)
BORDER_BIG = 1.5     # touching the frame and this many times the typical size: clutter
RULE_H = 1.1         # horizontal straight runs longer than this x typical height: a rule...
RULE_V = 1.6         # ...vertical ones longer than this (a 1 is at most about 1.2)...
RULE_BOX = 1.25      # ...or than this beside horizontal ones (a box's sides)
GRAIN = 0.15         # a page whose strongest digit-sized marks are fainter than this (of the
                     # paper's tone) has no ink a pen left: a shadow's grain (chosen on the dev pages)
FAINT = 0.4          # ink this much fainter than the digits' (a shadow's edge) is no digit
RULE_SLOPES = np.tan(np.radians([-4, -2, 0, 2, 4]))   # a rule in perspective is not level
MERGE_OVERLAP = 0.5  # boxes overlapping by this fraction of the narrower one...
MERGE_GAP = 0.25     # ...no farther apart vertically than this x typical height...
PIECE = 0.75         # ...one of them shorter than this x typical height: one digit
MERGE_TALL = 1.5     # ...unless together taller than this x typical height
INSIDE = 0.8         # two full strokes: one digit when one lies this much within the other's span
SLIVER = 0.25        # a component at the frame's edge thinner than this x typical height
SMALL_GROUP = 0.4    # a group shorter than this x typical height...
SMALL_INK = 0.2      # ...with less ink than this x the median group's is a dot, not a digit
LINE_OVERLAP = 0.3   # groups overlapping vertically by this x the shorter...
LINE_GAP = 2.5       # ...and no farther apart side by side than this x the taller: one line
MIN_HOLE = 0.02      # a loop enclosing less than this fraction of a digit's area is no loop
WIDE = 1.05          # a part wider than this x typical height is more than one digit...
WIDE_ALONE = 1.4     # ...and, without a classifier to ask, one wider than this is cut...
PART_ALONE = 0.35    # ...into parts at least this wide (x typical height)
SPLIT_TRY = 0.35     # ...one wider than this is tried as two when a classifier is given
WAIST = 1.6          # a cut crosses at most this many strokes' worth of ink...
WIDE_WAIST = 2.6     # ...this many in a part wider than WIDE_ALONE (a 3 touching a 0: two strokes)
MAX_CUTS = 6         # candidate cuts per group
STEP = 2.0           # a bent cut's sideways step costs this many pixels of ink (bent_cuts)...
UPRIGHT = 0.15       # ...tried upright too where the group leans more than this (dx per dy)
PART_MIN = 0.12      # a part narrower than this x typical height is no digit
CUT_COST = 4.0       # log-probability a cut must gain (chosen on the dev pages, see docs)
WIDE_COST = 2.0      # log-probability lost by a part wider than WIDE...
WIDE_SLOPE = 10.0    # ...and this much more per typical height it is wider still
SHORT_PART = 0.6     # a part cut off shorter than this x its group's height (a digit's tail)...
SHORT_COST = 3.0     # ...costs this much
CLEAN_WAIST = 1.2    # a cut crossing at most this many strokes...
FULL = 0.75          # ...beside a part this tall (x the group's height) is a clean cut...
CLEAN_COST = 0.5     # ...and costs only this much
UNSURE_LOGP = -0.2   # a part the classifier reads below exp(-0.2) = 0.82 (two digits merged,
UNSURE_COST = 3.0    # half a digit) costs this much more: a whole digit is read surely
MERGED_LOGP = -3.0   # a group kept whole whose reading is below this (only a part verifier
DEEPER = 1.0         # takes it there: verify.py) is tried again with cuts through this many
#                      strokes more (two digits overlapping under a heavy pen)
BROKEN_GAP = 0.15    # neighbours this close (x typical height; dev pages: 0.10 to 0.25 alike)...
BROKEN_THIN = 0.45   # ...one narrower than this or shorter than PIECE...
MERGE_GAIN = 0.25    # ...are one broken digit when read together better by this log-probability
BAR_WIDE = 1.4       # ...and, one of them a flat bar, together no wider than this x typical height
FLAT = 0.45          # a mark this many times as tall as wide...
FLAT_H = 0.6         # ...and shorter than this x typical height: a dash, an underline's piece
SIDE_H = 0.6         # a stroke this tall (x typical height) between two opened rules...
SIDE_W = 0.5         # ...no wider than this x its height, at the end of both: a box's side
REMNANT = 0.9        # a mark with this share of its pixels within 2 px of a rule: the rule's rim


@dataclass
class Found:
    """Digits found on a mask, in reading order, and what was rejected."""

    lines: list = field(default_factory=list)     # per line, per digit: (y0, x0, part mask)
    rejected: list = field(default_factory=list)  # ((x0, y0, x1, y1), reason)
    height: float = 0.0                           # the typical digit's height (pixels)
    rules: np.ndarray | None = None               # bool mask of the straight lines opened out
    specks: int = 0                               # components dropped as specks (not listed)


def features(lab: np.ndarray, n: int, frame: np.ndarray | None = None):
    """Per component: boxes [n, 4] (x0, y0, x1, y1), areas, stroke widths, and whether it
    touches the photo's frame (`frame`: bool mask of the frame's edge; default the border)."""
    if n == 0:
        z = np.zeros(0)
        return np.zeros((0, 4), int), z, z, z.astype(bool)
    ink = lab > 0
    areas = np.bincount(lab[ink], minlength=n + 1)[1:]
    perim = np.bincount(lab[ink & ~filters.erode(ink)], minlength=n + 1)[1:]  # boundary pixels
    slices = ndi.find_objects(lab)
    boxes = _boxes(slices)
    if frame is None:
        H, W = lab.shape
        border = (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == W) | (boxes[:, 3] == H)
    else:
        border = np.zeros(n + 1, bool)
        border[np.unique(lab[frame])] = True
        border = border[1:]
    return boxes, areas.astype(float), 2.0 * areas / np.maximum(perim, 1), border


def _boxes(slices) -> np.ndarray:
    """[n, 4] (x0, y0, x1, y1) of ndimage's find_objects slices."""
    return np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], int)


def label_mean(values: np.ndarray, lab: np.ndarray, n: int) -> np.ndarray:
    """== ndi.mean(values, lab, np.arange(1, n + 1)), from the labelled pixels only: scipy's
    bincount adds each label's pixels in raster order, and so does this."""
    at = np.flatnonzero(lab)
    lab = lab.ravel()[at]
    sums = np.bincount(lab, weights=np.asarray(values).ravel()[at], minlength=n + 1)
    counts = np.bincount(lab, minlength=n + 1)
    return sums[1:n + 1] / counts[1:n + 1].astype(np.float64)


def containers(boxes: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """bool per component: its box holds another sizeable component whole (a box drawn
    round a number); only the largest MAX_DIGITS components are looked at."""
    out = np.zeros(len(boxes), bool)
    big = np.argsort(-areas)[:MAX_DIGITS]
    big = big[areas[big] >= MIN_AREA]
    b = boxes[big]
    h = b[:, 3] - b[:, 1]
    inside = (b[:, None, 0] <= b[None, :, 0]) & (b[:, None, 1] <= b[None, :, 1]) \
        & (b[:, None, 2] >= b[None, :, 2]) & (b[:, None, 3] >= b[None, :, 3]) \
        & (h[None, :] >= 0.3 * h[:, None])
    np.fill_diagonal(inside, False)
    out[big] = inside.any(1)
    return out


def typical_height(boxes, areas, strokes, border) -> float:
    """The area-weighted median height of the stroke-like components away from the frame's
    edge (of those at it when there is none: a crop that one digit fills); 0 if none, or if
    the only marks away from the edge are wider than digits (an underline or a box touching
    every digit: the sheet's edge along the frame is no digit, `find` takes their height)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    ok = (areas >= MIN_AREA) & (h >= MIN_HEIGHT) & (strokes <= STROKE_LIKE * h) \
        & (w <= LINE_LIKE * h) & ~containers(boxes, areas)
    if (ok & ~border).any():
        ok &= ~border
    elif _wide(boxes, areas, border).any():
        return 0.0
    for _ in range(2):  # once more without what is far from the first estimate
        if not ok.any():
            return 0.0
        order = np.argsort(h[ok])
        cum = np.cumsum(areas[ok][order])
        ref = float(h[ok][order][np.searchsorted(cum, cum[-1] / 2)])
        ok &= (h <= TALL * ref) & (h >= 0.3 * ref)
    return ref


def _inked(areas: np.ndarray, strength: np.ndarray | None, lab: np.ndarray, n: int) -> np.ndarray:
    """`areas`, with those of marks as faint as the paper's grain (`GRAIN`) set to 0 when a
    pen left some mark darker: a shadow's edge, larger than small digits, sets no digit size."""
    if strength is None or not n:
        return areas
    grain = label_mean(strength, lab, n) < GRAIN
    if not (~grain & (areas >= MIN_AREA)).any():
        return areas
    return np.where(grain, 0.0, areas)


def _wide(boxes, areas, border) -> np.ndarray:
    """Marks away from the frame's edge wider than a digit: a rule or a box touching digits."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    return (w > LINE_LIKE * h) & (h >= MIN_HEIGHT) & (areas >= MIN_AREA) & ~border


def _shear_rows(a: np.ndarray, slope: float, x0: int = 0) -> tuple[np.ndarray, tuple]:
    """`a` with column x moved down by slope*x, so that a line of that slope is a row
    (x counted from `x0`: a crop at column x0 is sheared as the whole image would be)."""
    H, W = a.shape
    shift = np.round(slope * np.arange(x0, x0 + W)).astype(int)
    shift -= shift.min()
    rows = np.arange(H)[:, None] + shift[None, :]
    cols = np.broadcast_to(np.arange(W)[None, :], rows.shape)
    out = np.zeros((H + int(shift.max()), W), a.dtype)
    out[rows, cols] = a
    return out, (rows, cols)


def _runs_along_rows(lab: np.ndarray, extent: np.ndarray, lo: np.ndarray, L: int) -> np.ndarray:
    """The pixels of the mask labelled `lab` on a run of L along a row, at one of RULE_SLOPES
    (bool, the shape of `lab`).

    Such a run is 8-connected, so it lies in one component at least L wide; ndimage's
    'reflect' at the image's edge lets one half as wide count there. Only those components,
    inside their box (a zero column where that is not the image's edge), are looked at:
    the same pixels as opening the whole mask, at a fraction of its size on a large page.
    `extent`, `lo`: each component's extent and first column along the rows."""
    found = np.zeros(lab.shape, bool)
    wide = np.flatnonzero(extent >= (L + 1) // 2)
    if not len(wide):
        return found
    rows = np.flatnonzero(np.isin(lab, wide + 1).any(1))
    r0, r1 = rows[0], rows[-1] + 1
    c0, c1 = int(lo[wide].min()), int((lo[wide] + extent[wide]).max())
    pad0, pad1 = int(c0 > 0), int(c1 < lab.shape[1])
    crop = np.isin(lab[r0:r1, c0:c1], wide + 1).astype(np.uint8)
    crop = np.pad(crop, ((0, 0), (pad0, pad1)))
    for slope in RULE_SLOPES:
        s, back = _shear_rows(crop, slope, c0 - pad0)
        opened = ndi.maximum_filter1d(ndi.minimum_filter1d(s, L, axis=1), L, axis=1)
        found[r0:r1, c0:c1] |= opened[back][:, pad0:pad0 + c1 - c0].astype(bool)
    return found


def rules(mask: np.ndarray, height: float, lab: np.ndarray | None = None,
          boxes: np.ndarray | None = None) -> np.ndarray:
    """The straight lines of `mask` far longer than a digit's strokes (bool, same shape).

    Horizontal ones first; where there are some (a box, ruled paper), vertical lines a
    little taller than the digits are a box's sides, and come out too. `lab`, `boxes`:
    the mask's 8-connected components and their boxes, when the caller has them."""
    if lab is None:
        lab, n = ndi.label(mask, structure=np.ones((3, 3)))
        boxes = features(lab, n)[0]
    out = np.zeros_like(mask)
    for axis, length in ((1, RULE_H), (0, RULE_V)):
        if axis == 0 and out.any():
            length = RULE_BOX
        L = max(int(length * height), 15)
        if axis == 1:
            found = _runs_along_rows(lab, boxes[:, 2] - boxes[:, 0], boxes[:, 0], L)
        else:
            found = _runs_along_rows(lab.T, boxes[:, 3] - boxes[:, 1], boxes[:, 1], L).T
        out |= found
    return out & mask


def crossings(mask: np.ndarray, straight: np.ndarray) -> np.ndarray:
    """The pixels of the rules `straight` where a stroke crosses them (bool, mask's shape):
    ink that is no rule's both above and below a rule pixel, within the rules' width, and
    going on as far again (a stroke, not the rim the opening leaves along a rule or a 7's
    long bar), so that a digit written across a ruled line keeps its stroke there instead
    of being cut in two along the line. (A box's upright sides are left whole: what
    touches them on both sides is a digit on one side and clutter on the other.)"""
    if not straight.any():
        return straight
    reach = int(np.ceil(stroke_width(straight))) + 1
    rest = np.pad(mask & ~straight, ((2 * reach, 2 * reach), (0, 0)))
    H, r = straight.shape[0], 2 * reach

    def near_and_far(sign):
        near = np.zeros_like(straight)
        far = np.zeros_like(straight)
        for d in range(1, reach + 1):
            near |= rest[r + sign * d:r + sign * d + H]
            far |= rest[r + sign * (d + reach):r + sign * (d + reach) + H]
        # a slanting stroke moves sideways as it goes on
        return near & ndi.maximum_filter1d(far, 2 * reach + 1, axis=1)
    return straight & near_and_far(-1) & near_and_far(1)


FRAME_FILL = 0.8      # a mark whose holes filled cover this share of its box...
FRAME_HOLLOW = 0.8    # ...with ink on at most this share of that...
FRAME_STRAIGHT = 0.02  # ...and each side's outline within a pixel and this x its length of a straight line


def _outline(m: np.ndarray) -> np.ndarray:
    """Per column of `m` (bool [h, w]), the first inked row from the top (h where none)."""
    return np.where(m.any(0), m.argmax(0), m.shape[0])


def frames(lab: np.ndarray, n: int, boxes: np.ndarray, areas: np.ndarray,
           border: np.ndarray) -> np.ndarray:
    """The four sides of every frame drawn round digits that touch it (bool, lab's shape): a
    mark whose outline from each side is a straight line along the middle of that side and
    whose filled shape is its box, hollow. A digit is not: a 0's outline is a curve, a
    phone's or a thumb's shape is solid. Each side comes off as the run of ink from the
    outline inward, as deep as the side's stroke where it is alone: its first quartile, since
    a digit's stroke lying along the side (a 6's stem, a 0's top) makes the run deeper
    wherever it lies, and it may lie along half the side."""
    out = np.zeros(lab.shape, bool)
    h, w = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    for k in np.flatnonzero((areas >= MIN_AREA) & ~border & (h >= 2 * MIN_HEIGHT) & (w >= 2 * MIN_HEIGHT)):
        x0, y0, x1, y1 = boxes[k]
        m = lab[y0:y1, x0:x1] == k + 1
        filled = filters.fill_holes(m)  # == ndi.binary_fill_holes, faster
        if filled.sum() < FRAME_FILL * m.size or m.sum() > FRAME_HOLLOW * filled.sum():
            continue
        sides = [m, m[::-1], m.T, m.T[::-1]]          # seen from the top, bottom, left, right
        depths = []
        for v in sides:
            d = _outline(v)
            span = len(d)
            mid = np.arange(span // 5, span - span // 5)
            if len(mid) < 3:
                break
            fit = np.polyval(np.polyfit(mid, d[mid], 1), mid)
            if np.abs(d[mid] - fit).max() > 1.0 + FRAME_STRAIGHT * span:
                break
            depths.append(d)
        else:
            band = np.zeros_like(m)
            for v, d, b in zip(sides, depths, [band, band[::-1], band.T, band.T[::-1]]):
                rows = np.arange(v.shape[0])[:, None]
                below = np.cumsum(~v & (rows >= d[None, :]), axis=0) == 0  # the first run
                run = (rows >= d[None, :]) & below & v
                thick = np.percentile(run.sum(0)[d < v.shape[0]], 25)
                b |= run & (rows < d[None, :] + thick + 1)
            out[y0:y1, x0:x1] |= band
    return out


def box_sides(mask: np.ndarray, straight: np.ndarray, ref: float) -> np.ndarray:
    """The sides of a box whose top and bottom were opened out as rules, and the rims the
    opening left along any rule (bool, mask's shape).

    A box drawn close round a number has sides barely taller than its digits, too short to
    be told from a 1 as rules; what tells them is where they stand: each joins a rule at
    its top and one at its bottom, at the rule's end. A 1 touching a tight box's top and
    bottom has the rules running on past it on both sides, and a 1 standing on an
    underline has no rule at its top: both stay digits."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros(mask.shape, bool)
    # what the opening left of a rule: a rim a pixel or two wide along it, nothing else
    near = label_mean(filters.dilate(straight, 2), lab, n)
    out = np.r_[False, near >= REMNANT][lab]
    slices = ndi.find_objects(lab)
    boxes = _boxes(slices)
    h, w = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    for k in np.flatnonzero((h >= SIDE_H * ref) & (w <= SIDE_W * h)) + 1:
        if at_rule_ends(straight, boxes[k - 1], ref):
            sl = slices[k - 1]
            out[sl] |= lab[sl] == k
    return out


def at_rule_ends(straight: np.ndarray, box, ref: float) -> bool:
    """Whether a stroke in `box` (x0, y0, x1, y1) joins an opened rule at its top and one
    at its bottom, each at the rule's end (the rule runs on to one side only): a box's side."""
    x0, y0, x1, y1 = (int(v) for v in box)
    H, W = straight.shape
    tol = max(3, int(0.1 * ref))
    reach = max(tol + 2, int(0.3 * ref))
    for y in (y0, y1 - 1):
        band = straight[max(0, y - tol):min(H, y + tol + 1)]
        joins = band[:, max(0, x0 - tol):min(W, x1 + tol)].any()
        left = band[:, max(0, x0 - reach):max(0, x0 - tol)].any()
        right = band[:, min(W, x1 + tol):min(W, x1 + reach)].any()
        if not (joins and left != right):
            return False
    return True


def judge(boxes, areas, strokes, border, ref: float) -> list:
    """Per component: None (a digit's ink) or why it is not one."""
    if not len(boxes):  # a rule alone, opened out: nothing left, and no pen to measure
        return []
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    digitish = (strokes <= STROKE_LIKE * h) & (w <= LINE_LIKE * h) & (h >= 0.5 * ref)
    if (digitish & ~border).any():  # the sheet's edge along the frame is no pen's stroke
        digitish &= ~border
    pen = float(np.median(strokes[digitish])) if digitish.any() else float(np.median(strokes))
    reasons = []
    for k in range(len(boxes)):
        if areas[k] < MIN_AREA or max(h[k], w[k]) < SPECK * ref:
            reasons.append("speck")
        elif border[k] and (h[k] > BORDER_BIG * ref or w[k] > 2 * BORDER_BIG * ref):
            reasons.append("large object at the edge of the frame")
        elif border[k] and min(h[k], w[k]) < SLIVER * ref:
            reasons.append("a sliver along the edge of the frame (the sheet's edge, a shadow)")
        elif strokes[k] > BLOB * pen and h[k] > 0.3 * ref:
            reasons.append(f"solid blob (stroke {strokes[k]:.0f} px, the pen's {pen:.0f})")
        elif strokes[k] > SOLID * max(h[k], w[k]) and max(h[k], w[k]) >= max(SOLID_PX, 0.3 * ref):
            reasons.append(f"solid blob (stroke {strokes[k]:.0f} px of {max(h[k], w[k])} px)")
        elif strokes[k] < HAIRLINE * pen and max(h[k], w[k]) > 0.3 * ref:
            reasons.append(f"a hairline (stroke {strokes[k]:.1f} px, the pen's {pen:.0f})")
        elif h[k] > TALL * ref:
            reasons.append(f"{h[k] / ref:.1f} times as tall as the digits")
        elif w[k] > 3 * ref and h[k] < 0.5 * ref:
            reasons.append("a straight line")
        else:
            reasons.append(None)
    return reasons


def leaning_spans(lab: np.ndarray, n: int, keep: np.ndarray) -> np.ndarray:
    """Per component, its columns (x0, x1) along the writing's slant: the pooled slant of
    the kept components (each about its own centre), so that a 1 leaning into the 5 beside
    it spans its own columns, not the 5's. [n, 2] floats; upright writing: the box's."""
    ys, xs = np.nonzero(lab)
    k = lab[ys, xs] - 1
    count = np.bincount(k, minlength=n).astype(float)
    yc = ys - (np.bincount(k, ys, n) / np.maximum(count, 1))[k]
    xc = xs - (np.bincount(k, xs, n) / np.maximum(count, 1))[k]
    w = keep[k]
    slant = float(np.clip((xc * yc)[w].sum() / max((yc * yc)[w].sum(), 1.0), -0.6, 0.6))
    u = xs - slant * ys
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(lo, k, u)
    np.maximum.at(hi, k, u + 1)
    return np.stack([lo, hi], 1)


def group(boxes: np.ndarray, keep: np.ndarray, ref: float,
          spans: np.ndarray | None = None) -> list[np.ndarray]:
    """Component indices per digit: the pieces of one digit merged (vectorised pairs).
    `spans`: each component's columns along the writing's slant (default: its box's)."""
    b = boxes[keep]
    n = len(b)
    if n == 0:
        return []
    x0, y0, x1, y1 = (b[:, i][:, None] for i in range(4))
    if spans is not None:
        x0, x1 = spans[keep, 0][:, None], spans[keep, 1][:, None]
    overlap = np.minimum(x1, x1.T) - np.maximum(x0, x0.T)
    narrower = np.minimum(x1 - x0, (x1 - x0).T)
    gap = np.maximum(y0, y0.T) - np.minimum(y1, y1.T)
    h = y1 - y0
    union = np.maximum(y1, y1.T) - np.minimum(y0, y0.T)
    piece = (overlap >= MERGE_OVERLAP * narrower) & (gap <= MERGE_GAP * ref) \
        & (np.minimum(h, h.T) < PIECE * ref)
    # two strokes side by side, one within the other's span: a digit drawn in two (a 0, a 4)
    strokes = (overlap >= INSIDE * narrower) & (gap < -0.5 * np.minimum(h, h.T))
    adj = (piece | strokes) & (union <= MERGE_TALL * ref)
    comp = _components(*np.nonzero(np.triu(adj, 1)), n)
    ids = np.flatnonzero(keep)
    return [ids[comp == c] for c in range(comp.max() + 1)]


def _components(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Each of n nodes' connected component, edges (i, j): numbered as scipy numbers them.
    Without edges (one digit, digits apart) each node is its own, without scipy's sparse
    set-up, which costs a drawn digit more than the rest of its grouping."""
    if not len(i):
        return np.arange(n)
    return connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)[1]


def group_boxes(groups, boxes) -> np.ndarray:
    return np.array([[*boxes[g, :2].min(0), *boxes[g, 2:].max(0)] for g in groups], int).reshape(-1, 4)


def lines_of(gboxes: np.ndarray) -> list[list[int]]:
    """Group indices per line, top to bottom, left to right.

    A line is a chain of neighbours side by side that overlap vertically. Overlap alone
    chained two sloping lines into one where the end of the upper one came down to the
    height of the start of the lower one, a line's length apart; neighbours in a line are
    at most a gap between numbers apart."""
    n = len(gboxes)
    y0, y1 = gboxes[:, 1][:, None], gboxes[:, 3][:, None]
    x0, x1 = gboxes[:, 0][:, None], gboxes[:, 2][:, None]
    overlap = np.minimum(y1, y1.T) - np.maximum(y0, y0.T)
    shorter = np.minimum(y1 - y0, (y1 - y0).T)
    gap = np.maximum(x0, x0.T) - np.minimum(x1, x1.T)
    near = gap <= LINE_GAP * np.maximum(y1 - y0, (y1 - y0).T)
    comp = _components(*np.nonzero(np.triu((overlap >= LINE_OVERLAP * shorter) & near, 1)), n)
    xc = (gboxes[:, 0] + gboxes[:, 2]) / 2
    yc = (gboxes[:, 1] + gboxes[:, 3]) / 2
    lines = [np.flatnonzero(comp == c) for c in range(comp.max() + 1)] if n else []
    lines.sort(key=lambda m: float(np.median(yc[m])))
    return [list(m[np.argsort(xc[m])]) for m in lines]


def line_angle(lines: list[list[int]], gboxes: np.ndarray, min_digits=3, fit=0.25) -> float:
    """Degrees the lines slope by (the digits' centres fitted per line; 0 when unsure)."""
    angles, weights = [], []
    for line in lines:
        if len(line) < min_digits:
            continue
        b = gboxes[line].astype(float)
        x, y = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        slope, icpt = np.polyfit(x, y, 1)
        resid = np.sqrt(np.mean((y - (slope * x + icpt)) ** 2))
        if resid <= fit * np.median(b[:, 3] - b[:, 1]):
            angles.append(np.degrees(np.arctan(slope)))
            weights.append(len(line))
    if not angles:
        return 0.0
    return float(np.average(angles, weights=weights))


# ---- touching digits ---------------------------------------------------------------------

def _no_specks(mask: np.ndarray, share: float = 0.1) -> np.ndarray:
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n <= 1:
        return mask
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    areas[0] = 0
    return (areas >= share * areas.max())[lab]


def _slant(region: np.ndarray) -> float:
    ys, xs = np.nonzero(region)
    yc, xc = ys - ys.mean(), xs - xs.mean()
    return float(np.clip((xc * yc).sum() / max((yc * yc).sum(), 1), -0.6, 0.6))  # dx per dy


def split_loops(region: np.ndarray, depth: int = 3) -> list[np.ndarray]:
    """One digit's pixels, or two digits whose loops lie side by side, left to right.

    No digit has two loops side by side, so two such holes mean two digits: they are cut
    along the writing's slant, through the point between the holes, where that line
    crosses the ink once at most (a 0 with a stroke inside it crosses its own ring twice).
    """
    if depth == 0:
        return [region]
    holes = filters.fill_holes(region) & ~region
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
    slant = _slant(region)
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
        return [p for half in (left, right) for p in split_loops(_no_specks(half), depth - 1)]
    return [region]


def _thinned(cand: np.ndarray, crossing: np.ndarray, margin: float) -> np.ndarray:
    """Indices of the candidate cuts kept: the MAX_CUTS crossing least ink, and of two
    closer than `margin` (a thin digit) the one crossing less. `cand`: columns, ascending."""
    idx = np.arange(len(cand))
    if len(cand) > MAX_CUTS:
        idx = np.sort(np.argsort(crossing, kind="stable")[:MAX_CUTS])
    kept: list[int] = []
    for k in idx:
        if kept and cand[k] - cand[kept[-1]] < margin:
            if crossing[k] < crossing[kept[-1]]:
                kept[-1] = k
            continue
        kept.append(int(k))
    return np.asarray(kept, int)


def waists(region: np.ndarray, ref: float, deeper: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """The straight cuts where the ink is narrowest, along the group's slant, as paths (see
    bent_cuts); the ink each crosses, in strokes (`deeper` more than WAIST allows); the slant."""
    ys, xs = np.nonzero(region)
    slant = _slant(region)
    u = xs - slant * (ys - ys.mean())
    umin = u.min()
    col = np.floor(u - umin).astype(int)
    profile = ndi.uniform_filter1d(np.bincount(col).astype(float), 3)
    width = max(stroke_width(region), 1.0)
    lo = ndi.minimum_filter1d(profile, max(3, int(0.15 * ref)) | 1)
    limit = (WAIST if region.shape[1] <= WIDE_ALONE * ref else WIDE_WAIST) + deeper
    cand = np.flatnonzero((profile == lo) & (profile <= limit * width))
    margin = PART_MIN * ref
    cand = cand[(cand >= margin) & (cand <= len(profile) - margin)]
    cand = cand[_thinned(cand, profile[cand], margin)]
    # pixel x is left of the cut at u = c + 0.5 where x - slant * (y - mean) - umin < c + 0.5
    rows = np.arange(region.shape[0])
    paths = np.ceil(cand[:, None] + 0.5 + umin + slant * (rows - ys.mean())).astype(int) - 1
    return paths, profile[cand] / width, slant


def bent_cuts(region: np.ndarray, ref: float, slant: float,
              deeper: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Candidate cuts where the ink is narrowest: (per cut, the column it passes at each
    row, pixels at or left of it going left; the ink it crosses, in strokes), left to right.

    A cut runs top to bottom along the writing's slant and may bend a pixel sideways a row
    where that crosses less ink: two digits overlapping in their columns (a 7's bar over the
    0 beside it, a 1 leaning into a 5, a 2's tail under a 9) have no straight cut between
    them, but a bent one. The cheapest path to each bottom column is one dynamic programme
    over the rows, vectorised over the columns; a sideways step costs STEP pixels of ink, so
    a cut bends round a stroke, not along the paper.
    """
    h, w = region.shape
    ys, xs = np.nonzero(region)
    rows = np.arange(h)
    off = np.round(slant * (rows - ys.mean())).astype(int)  # x = u + off - shift
    shift = off.max()
    u = xs - off[ys] + shift
    sheared = np.zeros((h, w + shift - off.min()), np.float32)
    sheared[ys, u] = 1.0
    width = max(stroke_width(region), 1.0)
    cost = sheared[0].copy()
    back = np.zeros(sheared.shape, np.int8)
    pad = np.full(sheared.shape[1] + 2, np.inf, np.float32)
    for y in range(1, h):  # each row depends on the one above: the loop is over rows only
        pad[1:-1] = cost
        left, right = pad[:-2] + STEP, pad[2:] + STEP  # from the column left of it, right of it
        best = np.minimum(np.minimum(left, cost), right)
        back[y] = np.where(left == best, -1, np.where(cost == best, 0, 1))  # ties: left first
        cost = best + sheared[y]
    lo = ndi.minimum_filter1d(cost, max(3, int(0.15 * ref)) | 1)
    limit = (WAIST if w <= WIDE_ALONE * ref else WIDE_WAIST) + deeper
    margin = PART_MIN * ref
    cand = np.flatnonzero((cost == lo) & (cost <= limit * width + STEP * h)
                          & (np.arange(len(cost)) >= u.min() + margin)
                          & (np.arange(len(cost)) <= u.max() - margin))
    path = np.zeros((len(cand), h), int)
    at = cand.copy()
    for y in range(h - 1, -1, -1):  # every candidate's path traced back at once
        path[:, y] = at
        at = at + back[y, at]
    crossed = sheared[rows, path].sum(1) / width
    keep = crossed <= limit
    path, crossed, cand = path[keep], crossed[keep], cand[keep]
    kept = _thinned(cand, crossed, margin)
    return path[kept] + off - shift, crossed[kept]


def cut_paths(region: np.ndarray, ref: float, deeper: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate cut as a path (see bent_cuts), left to right, and the ink each
    crosses: the straight waists along the group's slant, then the bent cuts along it and,
    for a group leaning more than UPRIGHT (a merged pair's moments lean with its longest
    stroke, not with the writing), upright. `deeper`: strokes more a cut may cross."""
    straight, crossed, slant = waists(region, ref, deeper)
    paths, crossings = [straight], [crossed]
    for sl in ([slant, 0.0] if abs(slant) > UPRIGHT else [slant]):
        bent, bcrossed = bent_cuts(region, ref, sl, deeper)
        paths.append(bent)
        crossings.append(bcrossed)
    paths, crossed = np.vstack(paths), np.concatenate(crossings)
    order = np.argsort(paths.mean(1), kind="stable")
    return paths[order], crossed[order]


def split_wide(region: np.ndarray, ref: float, read: Callable | None) -> list[np.ndarray]:
    """`region` cut into digits at its waists: the cuts the classifier reads best.

    `read(parts) -> log-probabilities of each part's best reading`. Without a classifier
    only a part wider than a digit can be (WIDE) is cut, at its narrowest waists, into as
    many parts as its width asks for. A part read below UNSURE_LOGP costs UNSURE_COST: the
    log-probability of a merged pair (a "15" read as a 5 at 0.65) is too close to a digit's
    for the cut to pay on its own, more so for a model trained with label smoothing.
    """
    w = region.shape[1]
    if w <= (SPLIT_TRY if read is not None else WIDE_ALONE) * ref:
        return [region]
    cuts, crossed = cut_paths(region, ref)
    if read is not None:
        parts, whole = _best_cuts(region, ref, read, cuts, crossed)
        if len(parts) == 1 and (whole is None or whole < MERGED_LOGP):
            # kept whole: if it reads as no one digit, look for cuts through more ink
            deep, deep_crossed = cut_paths(region, ref, DEEPER)
            if len(deep) > len(cuts) and (read([region])[0] if whole is None else whole) < MERGED_LOGP:
                parts = _best_cuts(region, ref, read, deep, deep_crossed)[0]
        return parts
    if not len(cuts):
        return [region]
    # without a classifier: the cut nearest the middle, then each half again
    xs = np.nonzero(region)[1]
    n, part = len(cuts) + 2, parts_between(region, cuts)
    centre = cuts.mean(1)
    ok = [k for k, c in enumerate(centre) if min(c - xs.min(), xs.max() - c) >= PART_ALONE * ref]
    if not ok:
        return [region]
    k = min(ok, key=lambda k: abs(centre[k] - (xs.min() + xs.max()) / 2)) + 1
    halves = [_crop_cols(part(0, k)), _crop_cols(part(k, n - 1))]
    return [p for (m, x0) in halves for p in _uncrop(split_wide(m, ref, None), x0, region.shape)]


def parts_between(region: np.ndarray, cuts: np.ndarray) -> Callable:
    """part(i, j): the region's ink between bounds i and j, the bounds being its left edge,
    the cuts (paths, left to right) and its right edge; specks left by a cut dropped."""
    h, w = region.shape
    bounds = np.vstack([np.full(h, -1), cuts, np.full(h, w)])  # a part: bounds[i] < x <= bounds[j]
    ys, xs = np.nonzero(region)

    def part(i, j):
        m = np.zeros_like(region)
        sel = (xs > bounds[i][ys]) & (xs <= bounds[j][ys])
        m[ys[sel], xs[sel]] = True
        return _no_specks(m)
    return part


def _best_cuts(region: np.ndarray, ref: float, read: Callable, cuts: np.ndarray,
               crossed: np.ndarray) -> tuple[list[np.ndarray], float]:
    """split_wide's search with a classifier: the parts of the best reading, and the
    reading of the whole group as one part (None when there was nothing to read)."""
    if not len(cuts):
        return [region], None
    n, part = len(cuts) + 2, parts_between(region, cuts)
    spans = [(i, j) for i in range(n - 1) for j in range(i + 1, n)]
    masks = {s: part(*s) for s in spans}
    spans = [s for s in spans if masks[s].any() and _width(masks[s]) >= PART_MIN * ref]
    if not spans:
        return [region], None
    logp = dict(zip(spans, read([masks[s] for s in spans])))
    whole = float(logp[(0, n - 1)]) if (0, n - 1) in logp else None
    H = region.shape[0]

    def own(s):  # a part's reading and what its shape costs, whatever its neighbours
        m = masks[s]
        cost = wide_cost(_width(m), ref)
        if s != (0, n - 1) and _height(m) < SHORT_PART * H:
            cost += SHORT_COST
        if logp[s] < UNSURE_LOGP:
            cost += UNSURE_COST
        return logp[s] - cost

    # best[(i, j)]: the best reading of the columns up to bound j whose last part is (i, j).
    # The last part is kept in the state because a cut's cost depends on both its sides: a
    # cut through one stroke is clean only between two full-height parts ("11", "77"), not
    # where it leaves a digit's tail on one side.
    best, back = {}, {}
    for j in range(1, n):
        for i in range(j):
            if (i, j) not in logp:
                continue
            if i == 0:
                best[(0, j)], back[(0, j)] = own((0, j)), None
                continue
            part = own((i, j))
            full = _height(masks[(i, j)]) >= FULL * H
            for k in range(i):
                if (k, i) not in best:
                    continue
                clean = full and crossed[i - 1] <= CLEAN_WAIST and _height(masks[(k, i)]) >= FULL * H
                score = best[(k, i)] + part - (CLEAN_COST if clean else CUT_COST)
                if score > best.get((i, j), -np.inf):
                    best[(i, j)], back[(i, j)] = score, (k, i)
    ends = [s for s in best if s[1] == n - 1]
    if not ends:
        return [region], whole
    path = [max(ends, key=best.get)]
    while back[path[-1]] is not None:
        path.append(back[path[-1]])
    return [masks[s] for s in path[::-1]], whole


def wide_cost(width: float, ref: float) -> float:
    """Log-probability lost by reading a part `width` pixels wide as one digit: nothing up
    to WIDE x the typical height, then WIDE_COST and WIDE_SLOPE per typical height more
    (two digits side by side are about 1.3 x as wide as tall; one is rarely over 1)."""
    over = width / ref - WIDE
    return 0.0 if over <= 0 else WIDE_COST + WIDE_SLOPE * over


def _crop_cols(mask: np.ndarray) -> tuple[np.ndarray, int]:
    cols = np.flatnonzero(mask.any(0))
    return (mask[:, cols[0]:cols[-1] + 1], int(cols[0])) if len(cols) else (mask, 0)


def _uncrop(parts: list[np.ndarray], x0: int, shape) -> list[np.ndarray]:
    out = []
    for p in parts:
        m = np.zeros(shape, bool)
        m[:, x0:x0 + p.shape[1]] = p
        out.append(m)
    return out


def _height(mask: np.ndarray) -> int:
    rows = np.flatnonzero(mask.any(1))
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def _width(mask: np.ndarray) -> int:
    cols = np.flatnonzero(mask.any(0))
    return int(cols[-1] - cols[0] + 1) if len(cols) else 0


def _union(a, b):
    """Two (y0, x0, mask) digits as one."""
    y0, x0 = min(a[0], b[0]), min(a[1], b[1])
    y1 = max(a[0] + a[2].shape[0], b[0] + b[2].shape[0])
    x1 = max(a[1] + a[2].shape[1], b[1] + b[2].shape[1])
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for y, x, p in (a, b):
        m[y - y0:y - y0 + p.shape[0], x - x0:x - x0 + p.shape[1]] |= p
    return y0, x0, m


def merge_broken(digits: list, source: list, ref: float, read: Callable) -> list:
    """Neighbours of a line that are two pieces of one broken digit, merged: they come from
    different groups, nearly touch, one of them is thin or short, together they are no
    wider than a digit can be, and the classifier reads them together better by MERGE_GAIN."""
    digits, source = list(digits), list(source)
    k = 0
    while k < len(digits) - 1:
        a, b = digits[k], digits[k + 1]
        gap = b[1] - (a[1] + a[2].shape[1])
        piece = min(a[2].shape[1], b[2].shape[1]) < BROKEN_THIN * ref \
            or min(a[2].shape[0], b[2].shape[0]) < PIECE * ref
        u = _union(a, b)
        # a bar broken off (a 5's flag, a 7's top) may reach past the digit's body
        bar = any(p.shape[0] < FLAT * p.shape[1] for _, _, p in (a, b))
        if source[k] == source[k + 1] or gap > BROKEN_GAP * ref or not piece \
                or u[2].shape[1] > (BAR_WIDE if bar else WIDE) * ref \
                or u[2].shape[0] > MERGE_TALL * ref:
            k += 1
            continue
        y0, x0, m = u
        pa = np.zeros_like(m)
        pa[a[0] - y0:a[0] - y0 + a[2].shape[0], a[1] - x0:a[1] - x0 + a[2].shape[1]] = a[2]
        pb = np.zeros_like(m)
        pb[b[0] - y0:b[0] - y0 + b[2].shape[0], b[1] - x0:b[1] - x0 + b[2].shape[1]] = b[2]
        la, lb, lm = read([pa, pb, m], y0, x0)
        if lm - (la + lb) > MERGE_GAIN:
            digits[k:k + 2] = [u]
            source[k:k + 2] = [source[k]]
        else:
            k += 1
    return digits


def no_digit(y0: int, x0: int, part: np.ndarray, ref: float, rules: np.ndarray | None) -> str | None:
    """Why a part of a line, as cut and merged, is no digit (None: it is one): a dash or an
    underline's piece, or the side of a tight box that touched a digit and was cut off it
    (it stands at the ends of the opened rules, as a box's side does; a 1 does not)."""
    h, w = part.shape
    if h < FLAT * w and h < FLAT_H * ref:
        return f"flat (a dash, an underline's piece: {h}x{w} px)"
    if rules is not None and h >= SIDE_H * ref and w <= SIDE_W * h \
            and at_rule_ends(rules, (x0, y0, x0 + w, y0 + h), ref):
        return "a box's side, cut off a digit"
    return None


# ---- the whole page ------------------------------------------------------------------

def find(mask: np.ndarray, read: Callable | None = None, frame: np.ndarray | None = None,
         strength: np.ndarray | None = None) -> Found:
    """The digits of an ink mask, in reading order; what was rejected and why.

    `read(part masks, y0, x0) -> log-probabilities` (masks in the box whose top left is
    (y0, x0)) lets the classifier choose the cuts between touching digits (`split_wide`).
    `frame`: the photo's edge when the mask was turned (default: the mask's border).
    `strength`: the ink's strength (same shape), so that faint marks are told from digits.
    """
    out = Found()
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    boxes, areas, strokes, border = features(lab, n, frame)
    framed = frames(lab, n, boxes, areas, border)
    if framed.any():  # open them out first: what is left inside is digits
        mask = mask & ~framed
        out.rules = framed
        lab, n = ndi.label(mask, structure=np.ones((3, 3)))
        boxes, areas, strokes, border = features(lab, n, frame)
    ref = typical_height(boxes, _inked(areas, strength, lab, n), strokes, border) \
        or typical_height(boxes, areas, strokes, border)
    hgt, wid = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    if ref == 0:  # nothing stroke-like alone: a box or a rule touching every digit, perhaps
        wide = _wide(boxes, areas, border)
        if not wide.any():
            return out
        ref = float(np.median(hgt[wide]))  # the box's height, near the digits' own
    if np.any(((wid > RULE_H * ref) | (hgt > RULE_V * ref)) & (areas >= MIN_AREA)):
        straight = rules(mask, ref, lab, boxes)
        straight &= ~crossings(mask, straight)
        if straight.any():  # open them out and look again
            mask = mask & ~straight
            straight |= box_sides(mask, straight, ref)
            mask &= ~straight
            out.rules = straight if out.rules is None else out.rules | straight
            lab, n = ndi.label(mask, structure=np.ones((3, 3)))
            boxes, areas, strokes, border = features(lab, n, frame)
            ref = typical_height(boxes, _inked(areas, strength, lab, n), strokes, border) \
                or typical_height(boxes, areas, strokes, border) or ref
    out.height = ref
    if n > MAX_COMPONENTS:  # the largest are judged; the rest are dust on any page
        small = np.argsort(areas)[:n - MAX_COMPONENTS]
        areas = areas.copy()
        areas[small] = 0
    reasons = judge(boxes, areas, strokes, border, ref)
    for k in np.flatnonzero(containers(boxes, areas)):
        if reasons[k] is None:
            reasons[k] = "a frame round other marks (a box)"
    if strength is not None and n:
        tone = label_mean(strength, lab, n)
        ok = np.array([r is None for r in reasons]) & (areas >= MIN_AREA)
        tall = ok & (boxes[:, 3] - boxes[:, 1] >= 0.5 * ref)
        if tall.any():  # the strongest digit-sized marks: a shadow's edge covers more, faintly
            if tone[tall].max() < GRAIN:  # the strongest marks as faint as the paper's grain
                for k in np.flatnonzero(ok):
                    reasons[k] = f"faint (ink {tone[k]:.2f}: the paper's grain, no pen's)"
            else:  # a pen's marks beside the grain: the grain is no digit
                for k in np.flatnonzero(ok & (tone < GRAIN)):
                    reasons[k] = f"faint (ink {tone[k]:.2f}: the paper's grain, no pen's)"
                tall &= tone >= GRAIN
                typical = float(np.percentile(tone[tall], 90))
                for k in np.flatnonzero(ok & (tone >= GRAIN) & (tone < FAINT * typical)):
                    reasons[k] = f"faint (ink {tone[k]:.2f}, the digits' {typical:.2f})"
    keep = np.array([r is None for r in reasons], bool)
    for k in np.flatnonzero(~keep):
        if reasons[k] != "speck":  # specks are counted, not drawn: there may be thousands
            out.rejected.append((tuple(int(v) for v in boxes[k]), reasons[k]))
    out.specks = int(sum(r == "speck" for r in reasons))
    groups = group(boxes, keep, ref, leaning_spans(lab, n, keep))
    if len(groups) > MAX_DIGITS:
        raise UserError(f"{len(groups)} digit-like marks: too many for a page of numbers "
                        "(a photo of text, print or texture?)")
    if not groups:
        return out
    gboxes = group_boxes(groups, boxes)
    gh = gboxes[:, 3] - gboxes[:, 1]
    ink = np.array([areas[g].sum() for g in groups])
    small = (gh < SMALL_GROUP * ref) & (ink < SMALL_INK * np.median(ink))
    small |= gh < MIN_HEIGHT
    for k in np.flatnonzero(small):
        out.rejected.append((tuple(int(v) for v in gboxes[k]), "too small for a digit"))
    groups = [g for g, s in zip(groups, small) if not s]
    gboxes = gboxes[~small]
    for line in lines_of(gboxes):
        digits, source = [], []
        for k in line:
            x0, y0, x1, y1 = gboxes[k]
            region = np.isin(lab[y0:y1, x0:x1], groups[k] + 1)
            for piece in split_loops(region):
                cut_read = None if read is None else (lambda ps, o=(y0, x0): read(ps, *o))
                for part in split_wide(piece, ref, cut_read):
                    rows, cols = np.flatnonzero(part.any(1)), np.flatnonzero(part.any(0))
                    if not len(rows):
                        continue
                    digits.append((int(y0 + rows[0]), int(x0 + cols[0]),
                                   part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]))
                    source.append(k)
        if read is not None and len(digits) > 1:
            digits = merge_broken(digits, source, ref, read)
        kept = []
        for y0, x0, p in digits:  # after merging: a 7's bar broken off its stem is no dash
            why = no_digit(y0, x0, p, ref, out.rules)
            if why:
                out.rejected.append(((x0, y0, x0 + p.shape[1], y0 + p.shape[0]), why))
            else:
                kept.append((y0, x0, p))
        digits = kept
        if digits:
            out.lines.append(digits)
    return out
