"""One interface for every model, scikit-learn or PyTorch, and the registry of kinds.

Every model answers `fit(X, y, X_val, y_val)`, `predict`, `predict_proba`, `save(dir)` and
`load(dir)` on uint8 pixels `[N, 784]`, so evaluate, report and predict never ask which
kind they hold. This is the only module that branches on a model's kind.

    >>> m = models.create("logistic", {"kind": "logistic", "C": 1.0})
    >>> m.fit(X, y).predict(X_test)
    >>> m.save("models/logistic"); same = models.load("models/logistic")
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import joblib
import numpy as np

from recipes import paths, tables
from recipes.errors import UserError

N_CLASSES = 10
META = "model.json"
# keys of a model entry that the pipeline reads, not the estimator
PIPELINE_KEYS = {"kind", "seed", "epochs", "device", "threads", "data", "train_on_val", "reference"}


def open_live(live_dir):
    """DVCLive for a stage of dvc.yaml: the plots and metrics are declared there, not by it."""
    from dvclive import Live
    return Live(str(live_dir), dvcyaml=False, save_dvc_exp=False)


class Model:
    """The interface. `params` holds the entry as given; learned state ends in `_`."""

    kind = "model"

    def __init__(self, name: str = "model", **params):
        self.name = name
        self.params = params

    def fit(self, X, y, X_val=None, y_val=None, **monitor) -> "Model":
        raise NotImplementedError

    def predict_proba(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1).astype(np.uint8)

    fit_info_: dict = {}  # set by fit: how it ran (device, best epoch, ...), kept in train.json

    @property
    def n_params(self) -> int | None:
        """Learned parameters, where the count means something (None for a forest)."""
        return None

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, "name": self.name, "params": self.params}
        (path / META).write_text(json.dumps(meta, indent=2) + "\n")
        self._save_state(path)

    def _save_state(self, path: Path) -> None:
        raise NotImplementedError

    def _load_state(self, path: Path) -> None:
        raise NotImplementedError


class SklearnModel(Model):
    """A scikit-learn classifier on pixels scaled to [0, 1]."""

    estimator_class = None
    defaults: dict = {}

    def _estimator(self):
        kwargs = {**self.defaults, **{k: v for k, v in self.params.items() if k not in PIPELINE_KEYS}}
        try:
            return self.estimator_class(random_state=self.params.get("seed", 0), **kwargs)
        except TypeError as e:
            raise UserError(f"models.{self.name}: {e}") from None

    def fit(self, X, y, X_val=None, y_val=None, *, live_dir=None, **monitor):
        est = self._estimator()
        try:
            est.fit(tables.to_unit(X), y)
        except ValueError as e:
            raise UserError(f"models.{self.name}: {e}") from None
        self.estimator_ = est
        self.fit_info_ = {"device": "cpu"}
        if live_dir and X_val is not None:
            # one point on the curves that nets draw per epoch, so every model has them
            with open_live(live_dir) as live:
                live.log_metric("val_acc", float((self.predict(X_val) == y_val).mean()))
                live.next_step()
        return self

    def predict_proba(self, X) -> np.ndarray:
        proba = self.estimator_.predict_proba(tables.to_unit(X)).astype(np.float32)
        if proba.shape[1] == N_CLASSES:
            return proba
        # a class absent from a small training slice: put its column back, as zeros
        full = np.zeros((len(proba), N_CLASSES), np.float32)
        full[:, self.estimator_.classes_.astype(int)] = proba
        return full

    def _save_state(self, path: Path) -> None:
        joblib.dump(self.estimator_, path / "estimator.joblib")

    def _load_state(self, path: Path) -> None:
        self.estimator_ = joblib.load(path / "estimator.joblib")


class Logistic(SklearnModel):
    """Multinomial logistic regression (softmax regression), lbfgs."""

    kind = "logistic"
    defaults = {"C": 1.0, "max_iter": 100}

    @property
    def estimator_class(self):
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression

    @property
    def n_params(self):
        return int(self.estimator_.coef_.size + self.estimator_.intercept_.size)


class RandomForest(SklearnModel):
    """A random forest on all cores."""

    kind = "random_forest"
    defaults = {"n_estimators": 100, "n_jobs": -1}

    @property
    def estimator_class(self):
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier


def _net_class():
    from recipes.nets import NetClassifier  # torch is imported only when a net is asked for
    return NetClassifier


KINDS = {"logistic": lambda: Logistic, "random_forest": lambda: RandomForest, "net": _net_class}


def model_class(kind, name: str = "model") -> type[Model]:
    if kind not in KINDS:
        raise UserError(
            f"models.{name}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})"
        )
    return KINDS[kind]()


def create(name: str, entry: dict) -> Model:
    """A fresh, unfitted model for the params.yaml entry `models.<name>`."""
    return model_class(entry.get("kind"), name)(name=name, **entry)


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def trained(root: str | os.PathLike = paths.MODELS) -> list[str]:
    """Names of the trained models under `root` (folders holding a model.json), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META).is_file() and NAME.match(p.name))


def load_trained(name: str, root: str | os.PathLike = paths.MODELS) -> Model:
    """The trained model `root/<name>/`, by its plain name only: never a path."""
    known = trained(root)
    if not isinstance(name, str) or not NAME.match(name) or ".." in name or name not in known:
        listed = ", ".join(known) or "none (run `dvc repro`)"
        shown = "an empty name" if name == "" else f"{name!r}"
        raise UserError(f"model {shown}: not a trained model (trained: {listed})")
    return load(Path(root) / name)


def load(path: str | os.PathLike) -> Model:
    """A fitted model back from the folder that `save` wrote."""
    path = Path(path)
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no trained model here (missing {META})") from None
    model = model_class(meta["kind"], meta.get("name", path.name))(
        name=meta.get("name", path.name), **meta["params"]
    )
    model._load_state(path)
    return model
