"""Every kind of model as a scikit-learn estimator, the registry of kinds, and model files.

Each kind is a `ClassifierMixin + BaseEstimator` with explicit keyword hyperparameters
(those of `recipes.config`'s schema), taking uint8 pixels [N, 784] and giving float32
probabilities [N, 10]; so evaluate, report, predict and serve never ask which kind they hold.
This is the only module that maps a kind to its class.

Model files never run code when read: a net is a torch state_dict loaded with
`weights_only=True`, a scikit-learn model a skops file whose types are checked against the
few this project writes, and the rest is JSON (`model.json`: kind, hyperparameters and what
fitting learned besides the weights).

    >>> m = models.create("logistic", {"kind": "logistic", "C": 1.0}).fit(X, y)
    >>> models.save(m, "models/logistic", name="logistic"); same = models.load("models/logistic")
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from recipes import config, paths, tables
from recipes.errors import UserError

N_CLASSES = 10
META = "model.json"
FORMAT = 2  # model.json's format: 2 = no pickle anywhere


def validation_point(model, X_val, y_val, callbacks) -> None:
    """For a model fitted in one go (no epochs): its validation accuracy as the one point on
    the curves that nets draw per epoch, so every model has them, and in `fit_info_`."""
    if X_val is None:
        return
    X_val, y_val = tables.check(X_val, y_val)
    row = {"epoch": 1, "epochs": 1, "val_acc": float((model.predict(X_val) == y_val).mean()),
           "best": True, "best_epoch": 1}
    model.fit_info_["best_val_acc"] = round(row["val_acc"], 4)
    for cb in callbacks:
        cb(row, model.predict)


class PixelClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier on pixels scaled to [0, 1]; `estimator_` is the fitted one."""

    kind = "model"

    def _estimator(self):
        raise NotImplementedError

    def fit(self, X, y, X_val=None, y_val=None, callbacks=(), checkpoint=None):
        config.validate(self.get_params(), config.KIND_PARAMS[self.kind], type(self).__name__)
        X, y = tables.check(X, y)
        self.estimator_ = self._estimator().fit(tables.to_unit(X), y)
        self.classes_ = np.arange(N_CLASSES)
        self.n_params_ = self._n_params()
        self.fit_info_ = {"device": "cpu"}
        validation_point(self, X_val, y_val, callbacks)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        proba = self.estimator_.predict_proba(tables.to_unit(tables.check(X))).astype(np.float32)
        if proba.shape[1] == N_CLASSES:
            return proba
        # a class absent from a small training slice: put its column back, as zeros
        full = np.zeros((len(proba), N_CLASSES), np.float32)
        full[:, self.estimator_.classes_.astype(int)] = proba
        return full

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1).astype(np.uint8)

    def _n_params(self) -> int | None:
        return None

    def save_state(self, path: Path) -> dict:
        skops_io().dump(self.estimator_, path / SKOPS)
        return {"fit_info": self.fit_info_}

    def load_state(self, path: Path, learned: dict) -> None:
        skops = skops_io()
        file = path / SKOPS
        try:
            untrusted = set(skops.get_untrusted_types(file=file))
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise UserError(f"{file}: not a readable skops file ({type(e).__name__}); "
                            "re-run `dvc repro`") from None
        unexpected = sorted(untrusted - TRUSTED)
        if unexpected:
            raise UserError(f"{file}: holds types this project never writes "
                            f"({', '.join(unexpected[:3])}): refusing to load it")
        try:
            self.estimator_ = skops.load(file, trusted=sorted(untrusted))
        except Exception as e:  # a damaged file: skops raises several kinds
            raise UserError(f"{file}: cannot be read ({type(e).__name__}); re-run `dvc repro`") from None
        self.classes_ = np.arange(N_CLASSES)
        self.n_params_ = self._n_params()
        self.fit_info_ = learned.get("fit_info", {})


SKOPS = "estimator.skops"


def skops_io():
    """skops.io, imported without the default trust it builds from scikit-learn's list of
    every estimator: `all_estimators()` imports all of scikit-learn, about 2 s of each process
    that saves or reads a logistic regression or a forest (a stage, the reader, the server).
    Its default trust is then the estimator classes this project writes, narrower than
    skops's own; every other type a file holds is checked against TRUSTED as before. Where
    skops.io was imported already (by a caller of its own), that import is used as it is."""
    with _SKOPS_IMPORT:  # two threads' first loads: one import, scikit-learn left as it was
        if "skops.io" not in sys.modules:
            import sklearn.utils
            from sklearn.ensemble import RandomForestClassifier
            from sklearn.linear_model import LogisticRegression
            from sklearn.tree import DecisionTreeClassifier
            ours = [(c.__name__, c) for c in (LogisticRegression, RandomForestClassifier,
                                              DecisionTreeClassifier)]
            every = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = lambda *args, **kwargs: ours
            try:
                import skops.io
            finally:
                sklearn.utils.all_estimators = every
    return sys.modules["skops.io"]


_SKOPS_IMPORT = threading.Lock()


# what skops does not trust by default but our two estimators hold: numpy's scalar types
TRUSTED = {"numpy.dtype", "numpy.float64", "numpy.int64", "numpy.ndarray",
           "sklearn.tree._tree.Tree", "builtins.int", "builtins.float"}


class LogisticClassifier(PixelClassifier):
    """Multinomial logistic regression (softmax regression), lbfgs."""

    kind = "logistic"

    def __init__(self, C=1.0, max_iter=100, seed=0):
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def _estimator(self):
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)

    def _n_params(self) -> int:
        return int(self.estimator_.coef_.size + self.estimator_.intercept_.size)


class ForestClassifier(PixelClassifier):
    """A random forest on all cores (the trees are the same whatever the number of jobs)."""

    kind = "random_forest"

    def __init__(self, n_estimators=100, max_depth=None, seed=0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.seed = seed

    def _estimator(self):
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                      n_jobs=-1, random_state=self.seed)


def _net_class():
    from recipes.nets import NetClassifier  # torch is imported only when a net is asked for
    return NetClassifier


def _committee_class():
    from recipes.committee import CommitteeClassifier  # it imports this module
    return CommitteeClassifier


KINDS = {"logistic": lambda: LogisticClassifier, "random_forest": lambda: ForestClassifier,
         "net": _net_class, "committee": _committee_class}


def model_class(kind: str, where: str = "model"):
    if kind not in KINDS:
        raise UserError(f"{where}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    return KINDS[kind]()


def create(name: str, entry: dict):
    """A fresh, unfitted model for an entry in params.yaml's words (`kind` and its keys; the
    pipeline's own keys such as `reference` are accepted and left out)."""
    if not isinstance(entry, dict):
        raise UserError(f"models.{name}: expected a mapping with a `kind`")
    schema = config.ENTRIES.get(entry.get("kind"))
    if schema is None:
        model_class(entry.get("kind"), f"models.{name}")
    e = config.validate(entry, schema, f"models.{name}")
    hyper = config.KIND_PARAMS[e.kind].model_fields
    given = {k: v for k, v in e.model_dump(exclude_unset=True).items() if k in hyper}
    return from_params(e.kind, given)


def from_params(kind: str, params: dict):
    """An unfitted model of `kind` with these hyperparameters (a resolved entry's `params`)."""
    return model_class(kind)(**params)


# ---- model files ------------------------------------------------------------------------

def save(model, path: str | os.PathLike, name: str) -> None:
    """Write a fitted model into the folder `path` (which the caller makes atomic)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    learned = model.save_state(path)
    meta = {"format": FORMAT, "kind": model.kind, "name": name,
            "params": model.get_params(), "n_params": model.n_params_, "learned": learned}
    (path / META).write_text(json.dumps(meta, indent=2) + "\n")


def load(path: str | os.PathLike):
    """A fitted model back from the folder that `save` wrote; nothing in it can run code."""
    path = Path(path)
    if (path / "estimator.joblib").exists() or not (path / META).exists() and (path / "net.pt").exists():
        raise UserError(f"{path}: written by an older version of this project (pickled model "
                        "files are no longer read); re-run `dvc repro`")
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no trained model here (missing {META})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path / META}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or "kind" not in meta:
        raise UserError(f"{path / META}: no `kind` in it; re-run `dvc repro`")
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: written by an older version of this project (format "
                        f"{meta.get('format', 1)}); re-run `dvc repro`")
    model = model_class(meta["kind"], str(path / META))
    try:
        model = model(**meta.get("params", {}))
    except TypeError as e:
        raise UserError(f"{path / META}: {e}") from None
    try:
        model.load_state(path, meta.get("learned", {}))
    except UserError:
        raise
    except FileNotFoundError as e:
        raise UserError(f"{path}: incomplete model folder ({Path(e.filename).name} missing); "
                        "re-run `dvc repro`") from None
    except Exception as e:  # truncated or foreign weights: torch raises several kinds
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:150]
        raise UserError(f"{path}: the model's weights cannot be read safely ({reason}); "
                        "re-run `dvc repro`") from None
    model.name_ = meta.get("name", path.name)
    return model


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")  # `+`: resnet+1, a seed of an entry


def trained(root: str | os.PathLike = paths.MODELS) -> list[str]:
    """Names of the trained models under `root` (folders holding a model.json), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META).is_file() and NAME.match(p.name))


def load_trained(name: str, root: str | os.PathLike = paths.MODELS):
    """The trained model `root/<name>/`, by its plain name only: never a path."""
    known = trained(root)
    if not isinstance(name, str) or not NAME.match(name) or ".." in name or name not in known:
        listed = ", ".join(known) or "none (run `dvc repro`)"
        shown = "an empty name" if name == "" else f"{name!r}"
        raise UserError(f"model {shown}: not a trained model (trained: {listed})")
    return load(Path(root) / name)

