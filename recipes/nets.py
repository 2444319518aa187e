"""Networks as data: a list of layers from params.yaml, built into a torch module and trained.

The vocabulary is Lasagne's and network3's, e.g.

    layers:
      - {type: conv, num_filters: 20, filter_size: 5, nonlinearity: relu}
      - {type: pool, pool_size: 2}
      - {type: dense, num_units: 100, nonlinearity: sigmoid}
      - {type: dropout, p: 0.5}
      - {type: dense, num_units: 10, nonlinearity: softmax}

The softmax output is trained with negative log-likelihood (cross-entropy on the logits).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from recipes import tables
from recipes.errors import UserError
from recipes.models import N_CLASSES, Model, open_live

NONLINEARITIES = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "linear": None, "softmax": None,
}
LAYER_KEYS = {
    "conv": {"num_filters", "filter_size", "stride", "pad", "nonlinearity"},
    "pool": {"pool_size", "stride", "mode"},
    "dense": {"num_units", "nonlinearity"},
    "dropout": {"p"},
    "batchnorm": set(),
}
INPUT_SHAPE = (1, 28, 28)
EVAL_BATCH = 4096


class LayerError(UserError):
    pass


def build(layers: list, name: str = "net") -> nn.Sequential:
    """Turn a layer list into a torch module whose output is the 10 logits."""
    if not isinstance(layers, list) or not layers:
        raise LayerError(f"models.{name}.layers: must be a non-empty list of layers")
    shape = INPUT_SHAPE  # (C, H, W) until the first dense layer, then (features,)
    mods: list[nn.Module] = []
    for i, spec in enumerate(layers, 1):
        if not isinstance(spec, dict):
            raise LayerError(f"models.{name}, layer {i}: expected a mapping like {{type: dense, ...}}")
        kind = spec.get("type")
        where = f"models.{name}, layer {i} ({kind})"
        if kind == "batch_norm":
            kind = "batchnorm"
        if kind not in LAYER_KEYS:
            raise LayerError(f"{where}: unknown layer type (known: {', '.join(LAYER_KEYS)})")
        unknown = set(spec) - LAYER_KEYS[kind] - {"type"}
        if unknown:
            raise LayerError(f"{where}: unknown key {', '.join(sorted(unknown))} "
                             f"(a {kind} layer takes {', '.join(sorted(LAYER_KEYS[kind])) or 'none'})")
        act = spec.get("nonlinearity", "relu")
        if act not in NONLINEARITIES:
            raise LayerError(f"{where}: unknown nonlinearity {act!r} "
                             f"(known: {', '.join(NONLINEARITIES)})")
        if act == "softmax" and i != len(layers):
            raise LayerError(f"{where}: softmax is only for the output layer")

        if kind == "conv":
            if len(shape) != 3:
                raise LayerError(f"{where}: a conv layer cannot follow a dense layer")
            nf, fs = _positive(spec, "num_filters", where), _positive(spec, "filter_size", where)
            stride = _positive(spec, "stride", where, 1)
            pad = {"valid": 0, "same": fs // 2, "full": fs - 1}.get(spec.get("pad", 0), spec.get("pad", 0))
            if not isinstance(pad, int) or pad < 0:
                raise LayerError(f"{where}: pad must be a whole number >= 0, valid, same or full")
            c, h, w = shape
            oh, ow = (h + 2 * pad - fs) // stride + 1, (w + 2 * pad - fs) // stride + 1
            if oh < 1 or ow < 1:
                raise LayerError(f"{where}: a {fs}x{fs} filter does not fit the {h}x{w} input")
            mods.append(nn.Conv2d(c, nf, fs, stride, pad))
            shape = (nf, oh, ow)
        elif kind == "pool":
            if len(shape) != 3:
                raise LayerError(f"{where}: a pool layer cannot follow a dense layer")
            ps = _positive(spec, "pool_size", where, 2)
            stride = _positive(spec, "stride", where, ps)
            mode = spec.get("mode", "max")
            if mode not in ("max", "avg", "average"):
                raise LayerError(f"{where}: mode must be max or avg, got {mode!r}")
            c, h, w = shape
            if ps > h or ps > w:
                raise LayerError(f"{where}: a {ps}x{ps} pool does not fit the {h}x{w} input")
            mods.append(nn.MaxPool2d(ps, stride) if mode == "max" else nn.AvgPool2d(ps, stride))
            shape = (c, (h - ps) // stride + 1, (w - ps) // stride + 1)
        elif kind == "dense":
            n = _positive(spec, "num_units", where)
            if len(shape) == 3:
                mods.append(nn.Flatten())
                shape = (math.prod(shape),)
            mods.append(nn.Linear(shape[0], n))
            shape = (n,)
        elif kind == "dropout":
            p = spec.get("p", 0.5)
            if not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise LayerError(f"{where}: p must be in [0, 1), got {p!r}")
            mods.append(nn.Dropout(p) if len(shape) == 1 else nn.Dropout2d(p))
            continue
        elif kind == "batchnorm":
            mods.append(nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]))
            continue
        if kind in ("conv", "dense") and NONLINEARITIES[act] is not None:
            mods.append(NONLINEARITIES[act]())

    last = layers[-1]
    if last.get("type") != "dense" or last.get("num_units") != N_CLASSES or last.get("nonlinearity") != "softmax":
        raise LayerError(f"models.{name}, layer {len(layers)}: the output layer must be "
                         f"{{type: dense, num_units: {N_CLASSES}, nonlinearity: softmax}}")
    return nn.Sequential(*mods)


def _positive(spec: dict, key: str, where: str, default=None) -> int:
    v = spec.get(key, default)
    if v is None:
        raise LayerError(f"{where}: missing {key}")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise LayerError(f"{where}: {key} must be a whole number >= 1, got {v!r}")
    return v


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or str(name).startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UserError(f"device: {name} asked for, but this torch ({torch.__version__}) "
                            "sees no CUDA GPU; use device: auto or cpu")
        return torch.device(name)
    raise UserError(f"device: must be auto, cpu or cuda, got {name!r}")


# ---- training -------------------------------------------------------------------------

DEFAULTS = {
    "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
    "schedule": "constant", "step_size": 10, "gamma": 0.1, "batch_size": 64,
    "epochs": 10, "seed": 0, "device": "auto", "threads": 0, "pretrain": None, "augment": None,
}


def make_optimizer(name: str, params, cfg: dict, model: str):
    kw = {"lr": cfg["lr"], "weight_decay": cfg["weight_decay"]}
    if name == "sgd":
        return torch.optim.SGD(params, momentum=cfg["momentum"], nesterov=cfg["nesterov"], **kw)
    if name == "adam":
        return torch.optim.Adam(params, **kw)
    if name == "adadelta":
        return torch.optim.Adadelta(params, **kw)
    raise UserError(f"models.{model}.optimizer: must be sgd, adam or adadelta, got {name!r}")


def make_schedule(opt, cfg: dict, steps_per_epoch: int, model: str):
    """A scheduler stepped once per batch, so that one-cycle and the others share a loop."""
    name, epochs = cfg["schedule"], cfg["epochs"]
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    if name == "step":
        step = cfg["step_size"] * steps_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg["gamma"] ** (s // step))
    if name == "exponential":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg["gamma"] ** (s / steps_per_epoch))
    if name == "onecycle":
        group = opt.param_groups[0]
        cycles = group.get("momentum", 0) > 0 or "betas" in group  # adadelta has neither
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg["lr"], epochs=epochs, steps_per_epoch=steps_per_epoch,
            cycle_momentum=cycles)
    raise UserError(f"models.{model}.schedule: must be constant, step, exponential or onecycle, "
                    f"got {name!r}")


def _check_training(cfg: dict, name: str) -> None:
    for key in ("epochs", "batch_size"):
        v = cfg[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            src = "epochs (or the top-level epochs)" if key == "epochs" else key
            raise UserError(f"models.{name}.{src}: must be a whole number >= 1, got {v!r}")
    if not isinstance(cfg["lr"], (int, float)) or cfg["lr"] <= 0:
        raise UserError(f"models.{name}.lr: must be a number > 0, got {cfg['lr']!r}")
    t = cfg["threads"]
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise UserError(f"models.{name}.threads (or the top-level threads): must be a whole number "
                        f">= 0 (0: torch's default), got {t!r}")


@torch.no_grad()
def predict_logits(net: nn.Module, X: torch.Tensor, device: torch.device) -> torch.Tensor:
    net.eval()
    conv = has_conv(net)
    out = []
    for xb in X.split(EVAL_BATCH):
        xb = tables.to_unit(xb.to(device, non_blocking=True)).view(-1, *INPUT_SHAPE)
        if conv:
            xb = xb.contiguous(memory_format=torch.channels_last)
        out.append(net(xb).float())
    return torch.cat(out) if out else torch.empty(0, N_CLASSES, device=device)


def accuracy(net, X: torch.Tensor, y: torch.Tensor, device) -> float:
    return (predict_logits(net, X, device).argmax(1) == y.to(device)).float().mean().item()


def train_step(net, opt, xb_uint8, yb, conv: bool, augment=None, gen=None) -> torch.Tensor:
    """One SGD step on a uint8 batch: scaled (and distorted) on its device, channels-last for convs."""
    xb = tables.to_unit(xb_uint8)
    if augment is not None:
        xb = augment(xb, gen)
    if conv:
        xb = xb.contiguous(memory_format=torch.channels_last)
    loss = F.cross_entropy(net(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def rbm_pretrain(net: nn.Sequential, X: torch.Tensor, cfg: dict, device, name: str) -> None:
    """Greedy layer-wise RBM pretraining (CD-k) of the leading sigmoid dense layers.

    Each RBM's weights and hidden biases become the layer's; its input is the previous
    layer's hidden probabilities, as in Hinton and Salakhutdinov (2006) and nolearn's DBN.
    """
    epochs, lr = int(cfg.get("epochs", 5)), float(cfg.get("lr", 0.05))
    bs, k = int(cfg.get("batch_size", 64)), int(cfg.get("k", 1))
    g = torch.Generator(device=device).manual_seed(int(cfg.get("seed", 0)))
    stack = [m for m in net if not isinstance(m, nn.Flatten)]
    layers = []
    for a, b in zip(stack, stack[1:] + [None]):
        if isinstance(a, nn.Linear) and isinstance(b, nn.Sigmoid):
            layers.append(a)
        elif isinstance(a, nn.Linear):
            break
    if not layers:
        raise UserError(f"models.{name}.pretrain: needs sigmoid dense layers first in the net")
    v_data = tables.to_unit(X.to(device)).view(len(X), -1)
    for li, lin in enumerate(layers):
        W = lin.weight.data  # [hidden, visible]
        b_h = lin.bias.data
        b_v = torch.zeros(W.shape[1], device=device)
        for epoch in range(epochs):
            perm = torch.randperm(len(v_data), generator=g, device=device)
            err = 0.0
            for i in range(0, len(v_data), bs):
                v0 = v_data[perm[i:i + bs]]
                h0 = torch.sigmoid(v0 @ W.T + b_h)
                hk, vk = h0, v0
                for _ in range(k):
                    hs = torch.bernoulli(hk, generator=g)
                    vk = torch.sigmoid(hs @ W + b_v)
                    hk = torch.sigmoid(vk @ W.T + b_h)
                n = len(v0)
                W += lr * (h0.T @ v0 - hk.T @ vk) / n
                b_v += lr * (v0 - vk).mean(0)
                b_h += lr * (h0 - hk).mean(0)
                err += ((v0 - vk) ** 2).sum().item()
            print(f"{name}: RBM {li + 1}/{len(layers)} epoch {epoch + 1}/{epochs}: "
                  f"reconstruction error {err / len(v_data):.2f}", file=sys.stderr)
        v_data = torch.sigmoid(v_data @ W.T + b_h)


class NetClassifier(Model):
    """A network of params.yaml trained with PyTorch; see the module docstring for layers."""

    kind = "net"

    def _cfg(self) -> dict:
        cfg = {**DEFAULTS, **{k: v for k, v in self.params.items() if k in DEFAULTS}}
        _check_training(cfg, self.name)
        return cfg

    def fit(self, X, y, X_val=None, y_val=None, **monitor):
        cfg = self._cfg()
        if not cfg["threads"]:
            return self._fit(cfg, X, y, X_val, y_val, **monitor)
        # CPU convolutions sum in an order that depends on the thread count: pinning it is
        # what makes the same seed give the same figures on another machine
        previous = torch.get_num_threads()
        torch.set_num_threads(cfg["threads"])
        try:
            return self._fit(cfg, X, y, X_val, y_val, **monitor)
        finally:
            torch.set_num_threads(previous)

    def _fit(self, cfg, X, y, X_val, y_val, *, test=None, live_dir=None, checkpoint=None):
        device = pick_device(cfg["device"])
        torch.manual_seed(cfg["seed"])
        net = build(self.params.get("layers"), self.name).to(device)
        conv = has_conv(net)
        if conv:
            net = net.to(memory_format=torch.channels_last)
        # the whole table lives on the device as uint8; batches are cut by indexing
        Xt = _tensor(X, torch.uint8).view(-1, *INPUT_SHAPE).to(device)
        yt = _tensor(y, torch.int64).to(device)
        Xv, yv = (_tensor(X_val, torch.uint8), _tensor(y_val, torch.int64)) if X_val is not None else (None, None)
        Xs, ys = (_tensor(test[0], torch.uint8), _tensor(test[1], torch.int64)) if test else (None, None)
        augment = _augmenter(cfg["augment"], self.name)

        n, bs = len(Xt), cfg["batch_size"]
        steps = math.ceil(n / bs)
        opt = make_optimizer(cfg["optimizer"], net.parameters(), cfg, self.name)
        sched = make_schedule(opt, cfg, steps, self.name)
        gen = torch.Generator().manual_seed(cfg["seed"])  # on the CPU: same order on any device

        state = {"epoch": 0, "best_val": -1.0, "best_epoch": 0, "best_test": None,
                 "best_weights": None, "history": []}
        fingerprint = _fingerprint(self.params, X, y)
        ckpt = Path(checkpoint) if checkpoint else None
        if ckpt and ckpt.exists():
            saved = torch.load(ckpt, map_location=device, weights_only=False)
            if saved.get("fingerprint") == fingerprint:
                net.load_state_dict(saved["net"])
                opt.load_state_dict(saved["opt"])
                sched.load_state_dict(saved["sched"])
                gen.set_state(saved["gen"])
                torch.set_rng_state(saved["torch_rng"])
                state = saved["state"]
                print(f"{self.name}: resuming after epoch {state['epoch']} from {ckpt}",
                      file=sys.stderr)
        if state["epoch"] == 0 and cfg["pretrain"]:
            rbm_pretrain(net, Xt, {"seed": cfg["seed"], **cfg["pretrain"]}, device, self.name)

        # DVC removes the plots before a stage runs, so a resumed run writes its history anew
        live = open_live(live_dir) if live_dir else None
        for row in state["history"]:
            _log(live, row)
        for epoch in range(state["epoch"] + 1, cfg["epochs"] + 1):
            net.train()
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(device)
            loss_sum = torch.zeros((), device=device)
            bar = tqdm(range(0, n, bs), desc=f"{self.name} {epoch}/{cfg['epochs']}", unit="batch",
                       leave=False, disable=None, file=sys.stderr)
            for i in bar:
                idx = perm[i:i + bs]
                loss = train_step(net, opt, Xt[idx], yt[idx], conv, augment, gen)
                sched.step()
                loss_sum += loss.detach() * len(idx)
                if bar.n % 50 == 0 and not bar.disable:  # .item() syncs: only when shown
                    bar.set_postfix(loss=f"{loss.item():.3f}",
                                    img_s=f"{(i + len(idx)) / (time.perf_counter() - t0):,.0f}")
            bar.close()
            seconds = time.perf_counter() - t0
            train_loss = loss_sum.item() / n  # the one sync point of the epoch
            val_acc = accuracy(net, Xv, yv, device) if Xv is not None else float("nan")
            if Xv is None or val_acc > state["best_val"]:
                state.update(best_val=val_acc, best_epoch=epoch,
                             best_weights=copy.deepcopy(net.state_dict()))
                state["best_test"] = accuracy(net, Xs, ys, device) if Xs is not None else None
            row = {"epoch": epoch, "train_loss": train_loss, "val_acc": val_acc,
                   "best_test_acc": state["best_test"], "seconds": seconds,
                   "images_per_s": n / seconds, "lr": opt.param_groups[0]["lr"]}
            state["history"].append(row)
            state["epoch"] = epoch
            _report(self.name, row, cfg["epochs"], state)
            _log(live, row)
            if ckpt:
                _save_checkpoint(ckpt, fingerprint, net, opt, sched, gen, state)
        if live is not None:
            live.end()
        if ckpt:
            ckpt.unlink(missing_ok=True)  # finished: the model is the output now

        net.load_state_dict(state["best_weights"])
        self.net_ = net.to("cpu").to(memory_format=torch.contiguous_format)
        self.history_ = state["history"]
        self.best_epoch_ = state["best_epoch"]
        self.fit_info_ = {"device": str(device), "best_epoch": state["best_epoch"],
                          "epochs": cfg["epochs"],
                          "best_val_acc": round(state["best_val"], 4) if Xv is not None else None}
        return self

    def predict_proba(self, X) -> np.ndarray:
        device = pick_device(self.params.get("device", "auto"))
        net = self.net_.to(device)
        if has_conv(net):
            net = net.to(memory_format=torch.channels_last)
        X = _tensor(X, torch.uint8)
        return F.softmax(predict_logits(net, X, device), 1).cpu().numpy()

    @property
    def n_params(self) -> int:
        return count_params(self.net_)

    def _save_state(self, path: Path) -> None:
        torch.save({"layers": self.params.get("layers"), "state_dict": self.net_.state_dict(),
                    "history": self.history_, "best_epoch": self.best_epoch_},
                   path / "net.pt")

    def _load_state(self, path: Path) -> None:
        saved = torch.load(path / "net.pt", map_location="cpu", weights_only=False)
        net = build(saved["layers"], self.name)
        net.load_state_dict(saved["state_dict"])
        self.net_, self.history_, self.best_epoch_ = net, saved["history"], saved["best_epoch"]


def _tensor(a, dtype) -> torch.Tensor:
    """A tensor of its own (tables come back read-only from pyarrow)."""
    return torch.tensor(np.asarray(a), dtype=dtype)


def _augmenter(cfg, name: str):
    """Fresh distortions of every batch, on the device (see recipes.distort)."""
    if not cfg:
        return None
    from recipes import distort
    return distort.batch_augmenter(cfg, f"models.{name}.augment")


def _fingerprint(params: dict, X: np.ndarray, y: np.ndarray) -> str:
    """Identifies a training run, so that a checkpoint of another config is never resumed."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(np.asarray(X.shape).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(np.ascontiguousarray(X[:: max(1, len(X) // 997)]).tobytes())
    return h.hexdigest()


def _save_checkpoint(path: Path, fingerprint, net, opt, sched, gen, state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"fingerprint": fingerprint, "net": net.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "state": state}, tmp)
    os.replace(tmp, path)


def _log(live, row: dict) -> None:
    if live is None:
        return
    for key in ("train_loss", "val_acc", "best_test_acc", "images_per_s"):
        if row[key] is not None and not math.isnan(row[key]):  # no val_acc without validation
            live.log_metric(key, row[key])
    live.next_step()


def _report(name: str, row: dict, epochs: int, state: dict) -> None:
    test = state["best_test"]
    if math.isnan(row["val_acc"]):  # nothing held out: every epoch is the one kept so far
        val, test_msg = "no validation", f", test {test:.2%}" if test is not None else ""
    else:
        val = f"val {row['val_acc']:.2%}"
        test_msg = f", test {test:.2%} at best-val epoch {state['best_epoch']}" if test is not None else ""
    print(f"{name}: epoch {row['epoch']}/{epochs}: loss {row['train_loss']:.4f}, "
          f"{val}{test_msg}; {row['seconds']:.1f} s, "
          f"{row['images_per_s']:,.0f} images/s", file=sys.stderr, flush=True)
