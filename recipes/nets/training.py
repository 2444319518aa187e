"""The training loop of a net: optimizer, schedule, epochs, the best-validation weights and
a checkpoint after every epoch, read top to bottom as in PyTorch's examples/mnist.

The whole table lives on the device as uint8 and batches are cut by indexing; every epoch's
row goes to the callbacks the caller passes (the train stage logs it with DVCLive and prints
it), and may be extended by them: the checkpoint keeps the rows as the callbacks left them,
so a resumed run replays the same history.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from recipes import tables
from recipes.errors import UserError
from recipes.nets import allocator, inference
from recipes.nets.layers import INPUT_SHAPE, has_conv
from recipes.nets.precision import autocast

# callback(row, predict): row is one epoch's figures; predict(X uint8 [N, 784]) -> labels of
# the weights just trained (None while a resumed run replays the rows of before)
Callback = Callable[[dict, Callable | None], None]


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


def make_optimizer(cfg, params):
    kw = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, momentum=cfg.momentum, nesterov=cfg.nesterov, **kw)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, **kw)
    return torch.optim.Adadelta(params, **kw)


def make_schedule(opt, cfg, steps_per_epoch: int):
    """A scheduler stepped once per batch, so that one-cycle and the others share a loop."""
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    if cfg.schedule == "step":
        step = cfg.step_size * steps_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg.gamma ** (s // step))
    if cfg.schedule == "exponential":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg.gamma ** (s / steps_per_epoch))
    group = opt.param_groups[0]
    cycles = group.get("momentum", 0) > 0 or "betas" in group  # adadelta has neither
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
        cycle_momentum=cycles)


def predict_logits(net: nn.Module, X: torch.Tensor, device: torch.device,
                   precision: str = "fp32") -> torch.Tensor:
    """Logits of the net as it trains (validation, the epoch's test figure), through the
    inference path every trained model uses."""
    return inference.logits(inference.prepare(net, device), X, device, precision)


def accuracy(net, X: torch.Tensor, y: torch.Tensor, device, precision: str = "fp32") -> float:
    return (predict_logits(net, X, device, precision).argmax(1) == y.to(device)).float().mean().item()


def train_step(net, opt, xb_uint8, yb, conv: bool, augment=None, gen=None,
               precision: str = "fp32", label_smoothing: float = 0.0) -> torch.Tensor:
    """One SGD step on a uint8 batch: scaled (and distorted) on its device, channels-last for
    convs, the forward pass under bf16 autocast when the precision says so."""
    xb = tables.to_unit(xb_uint8)
    if augment is not None:
        xb = augment(xb, gen)
    if conv:
        xb = xb.contiguous(memory_format=torch.channels_last)
    with autocast(xb.device, precision):
        loss = F.cross_entropy(net(xb).float(), yb, label_smoothing=label_smoothing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


class WeightAverage:
    """The exponential moving average of a net's weights and batchnorm statistics, updated
    after every step (`ema: decay`): what validation sees and what is kept."""

    def __init__(self, net: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(net).eval()
        # state_dict tensors share the net's storage, which the optimizer updates in place
        self._pairs = list(zip(self.module.state_dict().values(), net.state_dict().values()))

    @torch.no_grad()
    def update(self) -> None:
        for avg, now in self._pairs:
            if avg.dtype.is_floating_point:
                avg.lerp_(now, 1 - self.decay)  # decay 0: exactly the net's weights
            else:
                avg.copy_(now)  # batchnorm's step count


def fit(net: nn.Module, cfg, X: np.ndarray, y: np.ndarray, X_val, y_val, device,
        augment=None, callbacks: list[Callback] = (), checkpoint: Path | None = None,
        fingerprint: str = "", before_first_epoch: Callable[[], None] | None = None,
        precision: str = "fp32") -> dict:
    """Train `net` in place for cfg.epochs; returns the state whose `best_weights` are kept.

    With validation data the best-validation epoch is kept, without it the last one.
    `before_first_epoch` runs only on a fresh start (the RBM pretraining), not on a resume.
    """
    allocator.reuse_freed_memory()  # a step's pages reused by the next, not faulted in anew
    conv = has_conv(net)
    Xt = _tensor(X, torch.uint8).view(-1, *INPUT_SHAPE).to(device)
    yt = _tensor(y, torch.int64).to(device)
    held_out = X_val is not None
    Xv, yv = (_tensor(X_val, torch.uint8), _tensor(y_val, torch.int64)) if held_out else (None, None)
    n, bs = len(Xt), cfg.batch_size
    opt = make_optimizer(cfg, net.parameters())
    sched = make_schedule(opt, cfg, math.ceil(n / bs))
    gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: same order on any device

    state = {"epoch": 0, "best_val": -1.0, "best_epoch": 0, "best_weights": None, "history": []}
    if checkpoint and checkpoint.exists():
        saved = load_checkpoint(checkpoint, device)
        if saved is not None and saved.get("fingerprint") == fingerprint:
            net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])
            gen.set_state(saved["gen"])
            torch.set_rng_state(saved["torch_rng"])
            state = saved["state"]
            print(f"resuming after epoch {state['epoch']} from {checkpoint}", file=sys.stderr)
    if state["epoch"] == 0 and before_first_epoch is not None:
        before_first_epoch()
    ema = None if cfg.ema is None else WeightAverage(net, cfg.ema)  # after the pretraining
    if ema is not None and "ema" in state:  # resumed: the average as it was
        ema.module.load_state_dict(state["ema"])
    kept = net if ema is None else ema.module  # validated, and kept at the best epoch
    for row in state["history"]:  # DVC removed the plots before the stage: write them anew
        for cb in callbacks:
            cb(row, None)

    def predict(Xq):
        return predict_logits(kept, _tensor(Xq, torch.uint8), device, precision).argmax(1).cpu().numpy()

    for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen).to(device)
        loss_sum = torch.zeros((), device=device)
        bar = tqdm(range(0, n, bs), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch",
                   leave=False, disable=None, file=sys.stderr)
        for i in bar:
            idx = perm[i:i + bs]
            loss = train_step(net, opt, Xt[idx], yt[idx], conv, augment, gen, precision,
                              cfg.label_smoothing)
            sched.step()
            if ema is not None:
                ema.update()
            loss_sum += loss.detach() * len(idx)
            if bar.n % 50 == 0 and not bar.disable:  # .item() syncs: only when shown
                bar.set_postfix(loss=f"{loss.item():.3f}")
        bar.close()
        seconds = time.perf_counter() - t0
        train_loss = loss_sum.item() / n  # the one sync point of the epoch
        val_acc = accuracy(kept, Xv, yv, device, precision) if held_out else None
        best = not held_out or val_acc > state["best_val"]
        if best:
            state.update(best_val=val_acc if held_out else -1.0, best_epoch=epoch,
                         best_weights=copy.deepcopy(kept.state_dict()))
        row = {"epoch": epoch, "epochs": cfg.epochs, "train_loss": train_loss, "val_acc": val_acc,
               "best": best, "best_epoch": state["best_epoch"], "seconds": seconds,
               "images_per_s": n / seconds, "lr": opt.param_groups[0]["lr"]}
        for cb in callbacks:
            cb(row, predict)
        state["history"].append(row)
        state["epoch"] = epoch
        if ema is not None:
            state["ema"] = ema.module.state_dict()
        if checkpoint:
            save_checkpoint(checkpoint, fingerprint, net, opt, sched, gen, state)
    if checkpoint:
        checkpoint.unlink(missing_ok=True)  # finished: the model is the output now
    return state


def _tensor(a, dtype) -> torch.Tensor:
    """A tensor of its own (tables come back read-only from pyarrow)."""
    return torch.tensor(np.asarray(a), dtype=dtype)


def save_checkpoint(path: Path, fingerprint, net, opt, sched, gen, state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"fingerprint": fingerprint, "net": net.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "state": state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device) -> dict | None:
    """The checkpoint's content, or None (and a notice) when it cannot be trusted or read.

    `weights_only=True`: tensors, numbers, strings and containers only, so a crafted file
    cannot run code; a truncated or foreign one starts the training afresh instead of
    failing every later run the same way.
    """
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(saved, dict):
            raise ValueError("not a checkpoint of this project")
        return saved
    except Exception as e:  # truncated zip, random bytes, a pickle with code in it, ...
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        print(f"notice: {path} is unreadable or not a plain checkpoint ({reason}); "
              "training this model afresh", file=sys.stderr)
        path.unlink(missing_ok=True)
        return None
