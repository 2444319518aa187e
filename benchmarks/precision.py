"""bf16 against float32: does bf16 autocast land within the seed-to-seed spread of float32?

    python benchmarks/precision.py [--mnist DIR] [--models mlp_512x2,lenet,network3_2conv]
                                   [--seeds 42,1,2] [--threads 1] [--out FILE.json]

Trains each named configuration of params.yaml with each seed in both precisions on the
pipeline's split (50,000 images; the validation split held out and used to pick the epoch,
as the pipeline does) and prints validation and test accuracy, training seconds, and per
configuration the mean and spread of each precision. Settings are the entries' own; the
test figure is reported, never used to choose.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from recipes import config, idx, models  # noqa: E402
from recipes.nets.precision import cpu_bf16  # noqa: E402
from recipes.stages.split import split_indices  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared/data/mnist"))
    ap.add_argument("--models", default="mlp_512x2,lenet,network3_2conv")
    ap.add_argument("--seeds", default="42,1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    m = Path(args.mnist)
    X, y = idx.read_pair(m / "train-images-idx3-ubyte.gz", m / "train-labels-idx1-ubyte.gz")
    Xt, yt = idx.read_pair(m / "t10k-images-idx3-ubyte.gz", m / "t10k-labels-idx1-ubyte.gz")
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    tr, va = split_indices(y, 10000, 42)
    params = config.load(ROOT / "params.yaml")
    cpu = [l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
           if l.startswith("model name")][:1]
    print(f"{cpu[0] if cpu else '?'}, {torch.backends.cpu.get_cpu_capability()}, bf16: {cpu_bf16()}, "
          f"torch {torch.__version__}, {args.threads} thread(s)", flush=True)
    rows = []
    for name in args.models.split(","):
        for seed in map(int, args.seeds.split(",")):
            for precision in ("fp32", "bf16"):
                r = config.resolve(params, name)["params"]
                r.update(seed=seed, precision=precision, threads=args.threads, device="cpu")
                t0 = time.perf_counter()
                est = models.from_params("net", r).fit(X[tr], y[tr], X[va], y[va])
                row = {"model": name, "seed": seed, "precision": precision,
                       "val": est.fit_info_["best_val_acc"],
                       "test": float((est.predict(Xt) == yt).mean()),
                       "seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                print(f"{name:16s} seed {seed:3d} {precision}: val {row['val']:.2%}  test "
                      f"{row['test']:.2%}  {row['seconds']:.0f} s", flush=True)
                if args.out:
                    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    for name in args.models.split(","):
        for precision in ("fp32", "bf16"):
            t = [r["test"] for r in rows if r["model"] == name and r["precision"] == precision]
            s = [r["seconds"] for r in rows if r["model"] == name and r["precision"] == precision]
            print(f"{name:16s} {precision}: test mean {np.mean(t):.2%}, range {min(t):.2%}-{max(t):.2%}"
                  f" (std {statistics.pstdev(t) * 100:.3f} pp), {np.mean(s):.0f} s per run")


if __name__ == "__main__":
    main()
