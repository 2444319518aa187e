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
