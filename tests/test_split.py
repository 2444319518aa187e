import numpy as np
import pytest

from recipes.errors import UserError
from recipes.stages.split import split_indices


def test_stratified_and_disjoint(mnist_train):
    _, y = mnist_train
    train, val = split_indices(y, 10000, seed=42)
    assert len(val) == 10000 and len(train) == 50000
    assert not set(train) & set(val)
    expected = np.bincount(y) * 10000 / len(y)
    assert np.abs(np.bincount(y[val]) - expected).max() <= 1
    assert np.all(np.diff(val) > 0)  # kept in the table's order


def test_seeded(mnist_train):
    _, y = mnist_train
    a = split_indices(y, 1000, seed=1)[1]
    assert np.array_equal(a, split_indices(y, 1000, seed=1)[1])
    assert not np.array_equal(a, split_indices(y, 1000, seed=2)[1])


@pytest.mark.parametrize("bad", [0, -5, 60000, 70000, 2.5, "10"])
def test_bad_val_size(bad, mnist_train):
    _, y = mnist_train
    with pytest.raises(UserError, match="split.val_size"):
        split_indices(y, bad, seed=0)
