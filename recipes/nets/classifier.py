"""`NetClassifier`: a network of params.yaml as a scikit-learn estimator.

Every hyperparameter is an explicit keyword with its default (the schema's
`recipes.config.NetParams`, checked against this signature by a test), `fit` returns self,
learned attributes end in `_`, so the net works in `Pipeline`, `cross_val_score`, `clone`
and `GridSearchCV` like any classifier:

    >>> net = NetClassifier(layers=[...], optimizer="adam", lr=0.002, epochs=5)
    >>> net.fit(X, y).predict(X_test)                       # X: uint8 pixels [N, 784]
    >>> GridSearchCV(net, {"lr": [0.001, 0.003]}, cv=3).fit(X, y)

`fit(X, y, X_val=..., y_val=...)` keeps the best-validation epoch (without validation data,
the last one); the train stage passes `callbacks` to log each epoch and a `checkpoint` path
to resume an interrupted run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from recipes import config, tables
from recipes.errors import UserError
from recipes.nets import layers as L
from recipes.nets import inference, training
from recipes.nets.precision import native_bf16
from recipes.nets.precision import resolve as resolve_precision
from recipes.nets.rbm import rbm_pretrain

class NetClassifier(ClassifierMixin, BaseEstimator):
    kind = "net"
    n_outputs = L.N_CLASSES  # the classes 0..n-1 it tells apart: the digits (a subclass may differ)

    def __init__(self, layers=None, optimizer="sgd", lr=0.1, momentum=0.0, nesterov=False,
                 weight_decay=0.0, schedule="constant", step_size=10, gamma=0.1,
                 batch_size=64, epochs=10, seed=0, device="auto", threads=0, precision="auto",
                 pretrain=None, augment=None, label_smoothing=0.0, ema=None, tta=0):
        self.layers = layers
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.step_size = step_size
        self.gamma = gamma
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.threads = threads
        self.precision = precision
        self.pretrain = pretrain
        self.augment = augment
        self.label_smoothing = label_smoothing
        self.ema = ema
        self.tta = tta

    def _config(self) -> config.NetParams:
        given = self.get_params()
        if given["layers"] is None:  # the default: softmax regression
            given["layers"] = [dict(layer) for layer in config.NetParams.model_fields["layers"].default]
        return config.validate(given, config.NetParams, type(self).__name__)

    def fit(self, X, y, X_val=None, y_val=None, callbacks=(), checkpoint=None):
        cfg = self._config()
        X, y = tables.check(X, y, self.n_outputs)
        if X_val is not None:
            X_val, y_val = tables.check(X_val, y_val, self.n_outputs)
        if not cfg.threads:
            return self._fit(cfg, X, y, X_val, y_val, callbacks, checkpoint)
        # CPU convolutions sum in an order that depends on the thread count: pinning it is
        # what makes the same seed give the same figures on another machine
        previous = torch.get_num_threads()
        torch.set_num_threads(cfg.threads)
        try:
            return self._fit(cfg, X, y, X_val, y_val, callbacks, checkpoint)
        finally:
            torch.set_num_threads(previous)

    def _fit(self, cfg, X, y, X_val, y_val, callbacks, checkpoint):
        device = training.pick_device(cfg.device)
        precision = resolve_precision(cfg.precision, device)
        torch.manual_seed(cfg.seed)
        net = L.build(cfg.layers, type(self).__name__, self.n_outputs).to(device)
        if L.has_conv(net):
            net = net.to(memory_format=torch.channels_last)
        augment = None
        if cfg.augment is not None and (cfg.augment.elastic or cfg.augment.affine or cfg.augment.strokes):
            from recipes import distort
            augment = distort.batch_augmenter(cfg.augment.model_dump(exclude_none=True), "augment")

        def pretrain():
            rbm_pretrain(net, torch.from_numpy(X), {"seed": cfg.seed, **cfg.pretrain.model_dump()},
                         device, type(self).__name__)

        state = training.fit(net, cfg, X, y, X_val, y_val, device, augment, callbacks,
                             Path(checkpoint) if checkpoint else None, _fingerprint(cfg, X, y),
                             pretrain if cfg.pretrain else None, precision)
        net.load_state_dict(state["best_weights"])
        self.net_ = net.to("cpu").to(memory_format=torch.contiguous_format).eval()
        self.classes_ = np.arange(self.n_outputs)
        self.n_params_ = L.count_params(self.net_)
        self.history_ = state["history"]
        self.best_epoch_ = state["best_epoch"]
        self.precision_ = precision
        self.fit_info_ = {"device": str(device), "precision": precision, "best_epoch": state["best_epoch"],
                          "epochs": cfg.epochs,
                          "best_val_acc": round(state["best_val"], 4) if X_val is not None else None}
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "net_")
        X = tables.check(X)
        device = training.pick_device(self.device)
        if getattr(self, "_prepared", (None,))[0] != device:  # prepared once per device
            self._prepared = (device, inference.prepare(self.net_, device))
        # a model trained in bf16 is read in bf16 where the hardware runs it natively
        precision = "bf16" if self.precision_ == "bf16" and native_bf16(device) else "fp32"
        return inference.proba(self._prepared[1], torch.from_numpy(X), device, precision,
                               self.tta).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1).astype(np.uint8)

    # ---- model files: a state_dict (loaded with weights_only=True) and JSON beside it ----

    def save_state(self, path: Path) -> dict:
        torch.save(self.net_.state_dict(), path / "net.pt")
        return {"history": self.history_, "best_epoch": self.best_epoch_, "fit_info": self.fit_info_,
                "precision": self.precision_}

    def load_state(self, path: Path, learned: dict) -> None:
        net = L.build(self._config().layers, type(self).__name__, self.n_outputs)
        state = torch.load(path / "net.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.net_ = net.eval()
        self.classes_ = np.arange(self.n_outputs)
        self.n_params_ = L.count_params(net)
        self.history_ = learned.get("history", [])
        self.best_epoch_ = learned.get("best_epoch")
        self.fit_info_ = learned.get("fit_info", {})
        self.precision_ = learned.get("precision", "fp32")


def _fingerprint(cfg: config.NetParams, X: np.ndarray, y: np.ndarray) -> str:
    """Identifies a training run, so that a checkpoint of another config is never resumed."""
    h = hashlib.sha256(json.dumps(cfg.model_dump(), sort_keys=True, default=str).encode())
    h.update(np.asarray(X.shape).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(np.ascontiguousarray(X[:: max(1, len(X) // 997)]).tobytes())
    return h.hexdigest()
