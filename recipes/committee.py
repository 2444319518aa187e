"""`kind: committee`: trained models of `models:` combined into one classifier.

    committee:
      kind: committee
      members: [lenet, network3_2conv]   # names in train.models, each trained by its own train@
      combine: mean                      # mean of the probabilities, or vote

`mean` averages the members' probabilities. `vote` takes each member's digit, the most
voted wins, and a tie goes to the digit with the higher mean probability; its probabilities
are the vote fractions smoothed by the mean probability, (votes + mean) / (members + 1), so
that rows sum to 1 and their argmax is that winner (a difference of one vote outweighs any
difference of the means, which lie in [0, 1]).

Fitting trains nothing: the members are fitted already (`fit(..., estimators={name: model})`,
or, by default, each read from models/<name>/). The committee's folder holds a copy of each
member (members/<name>/, written by `models.save`), so `models.load` needs the folder alone.
Nothing here looks at the test set: the members are what params.yaml names, all of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from recipes import config, models, tables
from recipes.errors import UserError

MEMBERS = "members"   # the committee folder's sub-folder holding one folder per member


class CommitteeClassifier(ClassifierMixin, BaseEstimator):
    kind = "committee"

    def __init__(self, members=None, combine="mean"):
        self.members = members
        self.combine = combine

    def fit(self, X=None, y=None, X_val=None, y_val=None, callbacks=(), checkpoint=None,
            estimators=None):
        """Take the fitted members (`estimators`: name -> model; default: models/<name>/);
        X, y are only checked. With validation data, its accuracy is the row callbacks get."""
        cfg = config.validate(self.get_params(), config.CommitteeParams, type(self).__name__)
        if not cfg.members:
            raise UserError(f"{type(self).__name__}: members: name at least one trained model")
        if X is not None:
            tables.check(X, y)
        given = estimators or {}
        self.estimators_ = [given[m] if m in given else models.load_trained(m) for m in cfg.members]
        for name, est in zip(cfg.members, self.estimators_):
            if list(getattr(est, "classes_", [])) != list(range(models.N_CLASSES)):
                raise UserError(f"{type(self).__name__}: member `{name}` is not a fitted digit classifier")
        self.classes_ = np.arange(models.N_CLASSES)
        counts = [getattr(e, "n_params_", None) for e in self.estimators_]
        self.n_params_ = None if None in counts else int(sum(counts))
        self.fit_info_ = {"device": "cpu"}
        models.validation_point(self, X_val, y_val, callbacks)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        X = tables.check(X)
        probas = np.stack([np.asarray(e.predict_proba(X), np.float64) for e in self.estimators_])
        mean = probas.mean(0)
        if self.combine == "mean":
            return mean.astype(np.float32)
        votes = np.zeros_like(mean)
        for p in probas:  # one vote per member for its most probable digit
            votes[np.arange(len(p)), p.argmax(1)] += 1
        return ((votes + mean) / (len(probas) + 1)).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1).astype(np.uint8)

    # ---- model files: members/<name>/ (each written by models.save), model.json beside ----

    def save_state(self, path: Path) -> dict:
        check_is_fitted(self, "estimators_")
        for name, est in zip(self.members, self.estimators_):
            models.save(est, path / MEMBERS / name, name=name)
        return {"fit_info": self.fit_info_}

    def load_state(self, path: Path, learned: dict) -> None:
        names = self.members or []
        bad = [m for m in names if not isinstance(m, str) or not models.NAME.match(m) or ".." in m]
        if not names or bad:
            raise UserError(f"{path / models.META}: members: expected plain model names, got {names!r}")
        self.estimators_ = [models.load(path / MEMBERS / m) for m in names]
        self.classes_ = np.arange(models.N_CLASSES)
        counts = [getattr(e, "n_params_", None) for e in self.estimators_]
        self.n_params_ = None if None in counts else int(sum(counts))
        self.fit_info_ = learned.get("fit_info", {})


def fingerprint(folder: Path) -> dict[str, str]:
    """The md5 of every file of a model folder, by its path inside it: what a committee
    records of each member, so that it is reassembled exactly when a member changes."""
    folder = Path(folder)
    if not (folder / models.META).is_file():
        raise UserError(f"{folder}: no trained model here (run `dvc repro`)")
    out = {}
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.md5()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        out[f.relative_to(folder).as_posix()] = h.hexdigest()
    return out
