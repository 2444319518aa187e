"""recipes.handwriting.filters: scipy.ndimage's answers, for the sizes the reader uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from recipes.handwriting import filters


def images(seed: int = 0):
    """Random images of odd and even sizes: plain noise, a drawing's paper (most pixels the
    lowest value), ink on white (most the highest), and ones smaller than the window."""
    rng = np.random.default_rng(seed)
    for shape in [(48, 48), (128, 97), (37, 130), (9, 6), (4, 4)]:
        a = rng.random(shape, dtype=np.float32)
        yield a
        yield np.where(a < 0.75, 0, a).astype(np.float32)
        yield np.where(a > 0.4, 1, a).astype(np.float32)


@pytest.mark.parametrize("k", [3, 5, 17])
def test_median_is_scipys_exactly(k):
    for a in images():
        assert np.array_equal(filters.median(a, k), ndi.median_filter(a, size=k, mode="nearest"))


def test_median_wants_an_odd_window():
    with pytest.raises(ValueError):
        filters.median(np.zeros((8, 8), np.float32), 4)


@pytest.mark.parametrize("sigma", [0.7, 3.25, 12.8, 40.0])
def test_gaussian_is_scipys_to_a_rounding_step(sigma):
    for a in images(1):
        got, want = filters.gaussian(a, sigma), ndi.gaussian_filter(a, sigma, mode="nearest")
        assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
        step = np.spacing(np.abs(want))
        assert np.all(np.abs(got - want) <= step)       # never more than one float32 step...
        assert np.count_nonzero(got != want) <= max(1, want.size // 1000)  # ...and rarely that


def masks(seed: int = 2):
    """Random masks, sparse to nearly full, of the shapes the reader meets and degenerate ones."""
    rng = np.random.default_rng(seed)
    for shape in [(1, 1), (1, 7), (7, 1), (2, 2), (3, 9), (40, 33), (128, 97), (280, 280)]:
        for p in (0.03, 0.3, 0.6, 0.97):
            yield rng.random(shape) < p


def test_dilate_erode_fill_holes_are_scipys_exactly():
    for m in masks():
        for k in (1, 2, 3, 6):
            assert np.array_equal(filters.dilate(m, k), ndi.binary_dilation(m, iterations=k))
        assert np.array_equal(filters.erode(m), ndi.binary_erosion(m))
        assert np.array_equal(filters.erode(m), ndi.binary_erosion(m, border_value=0))
        assert np.array_equal(filters.fill_holes(m), ndi.binary_fill_holes(m))


def test_histogram_is_numpys_exactly():
    from recipes.handwriting import ink
    rng = np.random.default_rng(3)
    for trial in range(600):
        n = int(rng.integers(1000, 90000))
        dtype = (np.float32, np.float64)[trial % 2]
        a = (rng.random(n) * rng.uniform(1e-3, 100) + rng.uniform(-5, 5)).astype(dtype)
        kind = trial % 5
        if kind == 1:   # most at the highest value (a drawing's paper)
            a[rng.random(n) < 0.8] = a.max()
        elif kind == 2:  # most at the lowest (ink clipped at 0)
            a = np.maximum(a - np.quantile(a, 0.7), 0).astype(dtype)
        elif kind == 3:  # a few levels only
            a = (np.round(a * rng.integers(2, 300)) / 7).astype(dtype)
        elif kind == 4:  # a PNG's 256 levels, mostly white
            a = (rng.integers(0, 256, n) / 255).astype(dtype)
            a[rng.random(n) < 0.9] = 1.0
        want, want_edges = np.histogram(a, 256)
        got, edges = ink.histogram(a, 256)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert edges.dtype == want_edges.dtype and np.array_equal(edges, want_edges)


def test_label_mean_is_scipys_exactly():
    from recipes.handwriting import segment
    rng = np.random.default_rng(4)
    for m in masks(5):
        lab, n = ndi.label(m, structure=np.ones((3, 3)))
        v = rng.random(m.shape, dtype=np.float32)
        assert np.array_equal(segment.label_mean(v, lab, n), ndi.mean(v, lab, np.arange(1, n + 1)))


def _rules_on_the_whole_mask(mask, height):
    """segment.rules as it was first written: every slope's opening over the whole mask."""
    from recipes.handwriting import segment
    out = np.zeros_like(mask)
    for axis, length in ((1, segment.RULE_H), (0, segment.RULE_V)):
        if axis == 0 and out.any():
            length = segment.RULE_BOX
        m = mask if axis == 1 else mask.T
        L = max(int(length * height), 15)
        found = np.zeros_like(m)
        for slope in segment.RULE_SLOPES:
            s, back = segment._shear_rows(m.astype(np.uint8), slope)
            opened = ndi.maximum_filter1d(ndi.minimum_filter1d(s, L, axis=1), L, axis=1)
            found |= opened[back].astype(bool)
        out |= found if axis == 1 else found.T
    return out & mask


def test_rules_in_their_components_boxes_are_the_whole_masks_exactly():
    # rules() opens only the components long enough to hold a rule, each in its box: the
    # same pixels, rules at the image's edge (ndimage's 'reflect') included
    from recipes.handwriting import segment
    rng = np.random.default_rng(6)
    found = 0
    for t in range(120):
        H, W = rng.integers(20, 160, 2)
        m = rng.random((H, W)) < rng.uniform(0.3, 0.7)
        m = ndi.binary_opening(m) if t % 2 else m
        for _ in range(rng.integers(0, 4)):  # straight lines, some running off the edge
            y, x = rng.integers(0, H), rng.integers(0, W)
            m[y, rng.integers(0, W):][:rng.integers(5, W)] = True
            m[rng.integers(0, H):, x][:rng.integers(5, H)] = True
        height = float(rng.uniform(5, 40))
        want = _rules_on_the_whole_mask(m, height)
        assert np.array_equal(segment.rules(m, height), want)
        found += want.any()
    assert found > 50  # most masks hold a rule: the test is not of empty answers
