"""Stage train: fit one model on its resolved entry, save it to models/<name>/.

    python -m recipes.stages.train NAME

Reads data/resolved/<name>.json (the resolve stage's output) and the tables it names.
Nets log each epoch with DVCLive to reports/<name>/live/ (training loss, validation accuracy,
and the test accuracy of the best-validation epoch so far, as network3 prints them) and keep
a checkpoint in checkpoints/<name>/ so that an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from recipes import models, paths, tables
from recipes.atomic import atomic_dir
from recipes.errors import UserError, run
from recipes.stages.resolve import md5


def read_resolved(name: str) -> dict:
    path = paths.resolved(name)
    try:
        resolved = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run `dvc repro resolve`)") from None
    for table, digest in resolved["tables"].items():
        if md5(table) != digest:
            raise UserError(f"{table} changed since {path} was written: run `dvc repro`")
    return resolved


def training_data(resolved: dict):
    """(X, y, X_val, y_val): the entry's data with the validation split held out, or, with
    `train_on_val`, trained on too and nothing held out (the final fit: all 60,000 training
    images, as Simard's; its last epoch is kept)."""
    X, y = tables.read(paths.DATA[resolved["data"]])
    X_val, y_val = tables.read(paths.VAL)
    if resolved["train_on_val"]:
        return np.concatenate([X, X_val]), np.concatenate([y, y_val]), None, None
    return X, y, X_val, y_val


def machine() -> dict:
    """What the figures depend on besides the params: the CPU and its vector extension."""
    out = {"cpu": platform.processor() or platform.machine()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                out["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if "torch" in sys.modules:
        out["cpu_capability"] = sys.modules["torch"].backends.cpu.get_cpu_capability()
    return out


class EpochLog:
    """The stage's callback: the test accuracy of each new best epoch, DVCLive, one line."""

    def __init__(self, name: str, live_dir: Path | None, test):
        self.name, self.test, self.replayed_seconds = name, test, 0.0
        self.live = None
        if live_dir is not None:
            from dvclive import Live  # the plots are declared in dvc.yaml, not by DVCLive
            self.live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False)
        self.best_test = None

    def __call__(self, row: dict, predict) -> None:
        if predict is None:                       # a resumed run replaying its history
            self.replayed_seconds += row.get("seconds", 0.0)
        elif row["best"]:
            X, y = self.test
            row["best_test_acc"] = float((predict(X) == y).mean())
        if row.get("best_test_acc") is not None:
            self.best_test = row["best_test_acc"]
        row.setdefault("best_test_acc", self.best_test)
        if self.live is not None:
            for key in ("train_loss", "val_acc", "best_test_acc", "images_per_s"):
                if row.get(key) is not None:
                    self.live.log_metric(key, row[key])
            self.live.next_step()
        if predict is not None:
            print(self.line(row), file=sys.stderr, flush=True)

    def line(self, row: dict) -> str:
        val = "no validation" if row["val_acc"] is None else f"val {row['val_acc']:.2%}"
        kept = "best" if row["val_acc"] is not None else "last"  # without validation the last is kept
        test = "" if row["best_test_acc"] is None else f", test {row['best_test_acc']:.2%} at {kept} epoch {row['best_epoch']}"
        loss = f"loss {row['train_loss']:.4f}, " if "train_loss" in row else ""
        speed = f"; {row['seconds']:.1f} s, {row['images_per_s']:,.0f} images/s" if "seconds" in row else ""
        return f"{self.name}: epoch {row['epoch']}/{row['epochs']}: {loss}{val}{test}{speed}"

    def end(self) -> None:
        if self.live is not None:
            self.live.end()


def train(name: str, resolved: dict, out: Path, live_dir: Path | None = None,
          checkpoint: Path | None = None) -> dict:
    X, y, X_val, y_val = training_data(resolved)
    model = models.from_params(resolved["kind"], resolved["params"])
    log = EpochLog(name, live_dir, tables.read(paths.TEST))
    t0 = time.perf_counter()
    model.fit(X, y, X_val, y_val, callbacks=[log], checkpoint=checkpoint)
    seconds = time.perf_counter() - t0 + log.replayed_seconds  # a resumed run counts it all
    log.end()
    info = {"train_seconds": round(seconds, 2), "train_images": int(len(y)),
            "n_params": model.n_params_, **model.fit_info_, **machine()}
    with atomic_dir(out) as tmp:
        models.save(model, tmp, name)
        if resolved["kind"] == "net":
            from recipes.nets.layers import summary_text
            (tmp / "summary.txt").write_text(summary_text(resolved["params"]["layers"], name))
        (tmp / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.train NAME")
    name = sys.argv[1]
    resolved = read_resolved(name)
    info = train(name, resolved, paths.model_dir(name), live_dir=paths.live(name),
                 checkpoint=paths.checkpoint(name))
    print(f"train: {name} in {info['train_seconds']:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    run(main)
