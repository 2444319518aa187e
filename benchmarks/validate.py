"""Validation accuracy of an entry of params.yaml with some of its settings changed: how a
cheaper setting is chosen (never on the test set).

    python benchmarks/validate.py network3_2conv --seeds 42,1,2 --set epochs=7
    python benchmarks/validate.py lenet --set epochs=8 --set schedule='"onecycle"'
    python benchmarks/validate.py random_forest --set n_estimators=100

Trains the entry as the pipeline does (the 50,000 images of the split, the validation split
held out and, for a net, used to keep the best epoch) with each seed, and prints each seed's
validation accuracy, its training seconds and, for a net, the validation accuracy of every
epoch; then the mean and range over the seeds. `--set KEY=VALUE` overrides a key of the
resolved entry; VALUE is JSON (strings in double quotes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from recipes import config, idx, models  # noqa: E402
from recipes.stages.split import split_indices  # noqa: E402
from recipes.stages.train import machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seeds", default="42,1,2")
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared/data/mnist"))
    args = ap.parse_args()
    m = Path(args.mnist)
    X, y = idx.read_pair(m / "train-images-idx3-ubyte.gz", m / "train-labels-idx1-ubyte.gz")
    X = X.reshape(len(X), -1)
    tr, va = split_indices(y, 10000, 42)  # the pipeline's split (split.val_size, split.seed)
    resolved = config.resolve(config.load(ROOT / "params.yaml"), args.name)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    where = machine()
    print(f"{where['cpu']}, {where['cpu_capability']}, torch {torch.__version__}; "
          f"{args.name} with {overrides or 'its own settings'}", flush=True)
    vals = []
    for seed in map(int, args.seeds.split(",")):
        params = {**resolved["params"], **overrides, "seed": seed}
        t0 = time.perf_counter()
        est = models.from_params(resolved["kind"], params).fit(X[tr], y[tr], X[va], y[va])
        seconds = time.perf_counter() - t0
        vals.append(float((est.predict(X[va]) == y[va]).mean()))
        curve = getattr(est, "history_", None)
        epochs = "" if not curve else "  epochs: " + " ".join(f"{r['val_acc']:.2%}" for r in curve)
        print(f"seed {seed}: validation {vals[-1]:.2%}, {seconds:.1f} s{epochs}", flush=True)
    print(f"{args.name}: validation mean {statistics.fmean(vals):.2%} over {len(vals)} seeds, "
          f"range {min(vals):.2%}-{max(vals):.2%}")


if __name__ == "__main__":
    main()
