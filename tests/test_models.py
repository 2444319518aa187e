"""Every kind of model as a scikit-learn estimator, on a small MNIST slice, and model files."""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks

from conftest import ROOT
from recipes import config, models
from recipes.errors import UserError
from recipes.nets import NetClassifier

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
    assert list(model.classes_) == list(range(10))
    models.save(model, tmp_path / name, name=name)
    again = models.load(tmp_path / name)
    assert again.kind == model.kind and again.get_params() == model.get_params()
    assert np.array_equal(again.predict(Xt), pred)
    assert np.allclose(again.predict_proba(Xt), proba, atol=1e-6)


@pytest.mark.parametrize("kind", list(models.KINDS))
def test_signature_is_the_schema(kind):
    # the estimator's keywords and defaults are the schema's: one description of each knob
    cls = models.model_class(kind)
    sig = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    schema = config.KIND_PARAMS[kind]()
    assert set(sig) == set(config.KIND_PARAMS[kind].model_fields)
    for key, default in sig.items():
        if key != "layers":  # None: the schema's default layer list, a softmax regression
            assert default == getattr(schema, key), key


def test_a_net_is_a_scikit_learn_classifier(slice2000):
    (X, y), _, (Xt, yt) = slice2000
    net = NetClassifier(layers=TINY_NET["layers"], optimizer="adam", lr=0.002, epochs=1,
                        batch_size=64, device="cpu")
    copy = clone(net)
    assert copy.get_params() == net.get_params() and copy is not net
    with pytest.raises(NotFittedError):
        net.predict(Xt)
    scores = cross_val_score(net, X[:900], y[:900], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.5

    def binarize(a):
        return np.where(a > 127, 255, 0).astype(np.uint8)

    pipe = make_pipeline(FunctionTransformer(binarize), clone(net)).fit(X, y)
    assert (pipe.predict(Xt) == yt).mean() > 0.7
    search = GridSearchCV(net, {"lr": [0.0005, 0.005]}, cv=2).fit(X[:1000], y[:1000])
    assert search.best_params_["lr"] in (0.0005, 0.005)
    assert search.best_estimator_.lr == search.best_params_["lr"]


# scikit-learn's checks of the estimator contract that hold for models of 784 uint8 pixels
# and 10 digits; the rest of check_estimator feeds 2- to 4-feature random floats
CONTRACT = ["check_no_attributes_set_in_init", "check_parameters_default_constructible",
            "check_get_params_invariance", "check_set_params", "check_estimator_repr",
            "check_do_not_raise_errors_in_init_or_set_params"]


@pytest.mark.parametrize("check", CONTRACT)
@pytest.mark.parametrize("kind", list(models.KINDS))
def test_scikit_learn_contract_checks(kind, check):
    est = models.model_class(kind)()
    fn = getattr(estimator_checks, check)
    fn(type(est).__name__, est)


def test_bad_hyperparameters_are_one_line(slice2000):
    (X, y), _, _ = slice2000
    with pytest.raises(UserError, match=r"NetClassifier: lr: input should be greater than 0"):
        NetClassifier(lr=-1).fit(X[:50], y[:50])
    with pytest.raises(UserError, match=r"models.n: learning_rate: unknown key \(did you mean lr\?\)"):
        models.create("n", {**TINY_NET, "learning_rate": 3})
    with pytest.raises(UserError, match=r"models.lr: max_iters: unknown key \(did you mean max_iter\?\)"):
        models.create("lr", {"kind": "logistic", "max_iters": 3})
    with pytest.raises(UserError, match=r"models.svm.kind: unknown kind 'svm'"):
        models.create("svm", {"kind": "svm"})
    with pytest.raises(ValueError, match="whole numbers 0..255"):
        NetClassifier(epochs=1).fit(X[:50] / 255.0, y[:50])


def test_logistic_param_count(slice2000):
    (X, y), _, _ = slice2000
    m = models.create("lr", ENTRIES["logistic"]).fit(X, y)
    assert m.n_params_ == 7850


def test_load_missing(tmp_path):
    with pytest.raises(UserError, match="no trained model"):
        models.load(tmp_path)


@pytest.mark.slow  # a fresh interpreter: 3-4 s
def test_a_forest_is_read_without_importing_all_of_scikit_learn(slice2000, tmp_path):
    """skops builds its default trust by importing every scikit-learn estimator (about 2 s
    of each stage that saves or reads a forest or a logistic regression): the project's
    import of it leaves that out, and its files still read back, predictions and all."""
    (X, y), _, (Xt, _) = slice2000
    for name in ("logistic", "random_forest"):
        model = models.create(name, ENTRIES[name]).fit(X[:500], y[:500])
        models.save(model, tmp_path / name, name=name)
        np.save(tmp_path / f"{name}.npy", model.predict_proba(Xt))
    np.save(tmp_path / "X.npy", Xt)
    code = ("import sys, numpy as np; from recipes import models\n"
            "X = np.load('X.npy')\n"
            "for name in ('logistic', 'random_forest'):\n"
            "    assert np.array_equal(models.load(name).predict_proba(X), np.load(name + '.npy'))\n"
            "never = ('sklearn.gaussian_process', 'sklearn.mixture', 'sklearn.neural_network')\n"
            "print(sorted(set(never) & set(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
