import numpy as np
import pytest

from recipes import models
from recipes.errors import UserError

TINY_NET = {
    "kind": "net", "epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.002, "seed": 0,
    "device": "cpu",
    "layers": [{"type": "dense", "num_units": 64, "nonlinearity": "relu"},
               {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
}
ENTRIES = {
    "logistic": {"kind": "logistic", "C": 0.1, "max_iter": 100, "seed": 0},
    "random_forest": {"kind": "random_forest", "n_estimators": 20, "seed": 0},
    "net": TINY_NET,
}


@pytest.mark.parametrize("name", list(ENTRIES))
def test_interface(name, slice2000, tmp_path):
    (X, y), (Xv, yv), (Xt, yt) = slice2000
    model = models.create(name, ENTRIES[name])
    assert model.fit(X, y, Xv, yv) is model
    proba = model.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10) and proba.dtype == np.float32
    assert np.allclose(proba.sum(1), 1, atol=1e-4)
    pred = model.predict(Xt)
    assert np.array_equal(pred, proba.argmax(1))
    assert (pred == yt).mean() > 0.75  # 2,000 images are enough to be far above chance
    model.save(tmp_path / name)
    again = models.load(tmp_path / name)
    assert again.kind == model.kind
    assert np.array_equal(again.predict(Xt), pred)
    assert np.allclose(again.predict_proba(Xt), proba, atol=1e-6)


def test_logistic_param_count(slice2000):
    (X, y), _, _ = slice2000
    m = models.create("lr", ENTRIES["logistic"]).fit(X, y)
    assert m.n_params == 7850


def test_unknown_kind():
    with pytest.raises(UserError, match=r"models.svm.kind: unknown kind 'svm'"):
        models.create("svm", {"kind": "svm"})


def test_bad_estimator_param(slice2000):
    (X, y), _, _ = slice2000
    with pytest.raises(UserError, match="models.lr"):
        models.create("lr", {"kind": "logistic", "n_trees": 3}).fit(X, y)


def test_load_missing(tmp_path):
    with pytest.raises(UserError, match="no trained model"):
        models.load(tmp_path)
