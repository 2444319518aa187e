"""Speed figures for this machine: parse time, and training / inference images/s per network.

    python benchmarks/bench.py [--mnist DIR] [--nets lenet,mlp_512x2,...] [--seconds 5]
                               [--device auto] [--pipeline]

Prints one line per figure. Targets live here, not in timed tests: the issue asks for the
70,000 images parsed in <= 1 s, LeNet forward + backward at about 25,000 images/s and an
MLP 784-800-10 at about 55,000 images/s on a 2-core CPU. `--pipeline` also times the default
`dvc repro --force` (minutes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes import idx, nets, tables  # noqa: E402
from recipes.stages import parse  # noqa: E402

MLP_800 = [{"type": "dense", "num_units": 800, "nonlinearity": "relu"},
           {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]


def bench_parse(mnist: Path) -> None:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for images, labels in parse.SETS.values():
            idx.read_pair(mnist / images, mnist / labels)
        times.append(time.perf_counter() - t0)
    print(f"parse: 70,000 images read and checked from IDX in {min(times):.2f} s (best of 3)")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        parse.parse(mnist, Path(tmp))
        print(f"parse stage: IDX -> both Parquet tables in {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        tables.read(Path(tmp) / "train.parquet")
        print(f"tables.read: 60,000-row table in {time.perf_counter() - t0:.2f} s")


def bench_net(name: str, layers: list, batch: int, device: torch.device, seconds: float) -> None:
    torch.manual_seed(0)
    net = nets.build(layers, name).to(device)
    conv = nets.has_conv(net)
    if conv:
        net = net.to(memory_format=torch.channels_last)
    X = torch.randint(0, 256, (8192, 1, 28, 28), dtype=torch.uint8, device=device)
    y = torch.randint(0, 10, (8192,), device=device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step(i):
        idx = torch.arange(i * batch, (i + 1) * batch, device=device) % len(X)
        nets.train_step(net, opt, X[idx], y[idx], conv)

    net.train()
    for i in range(3):
        step(i)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(n)
        n += 1
    sync()
    train_rate = n * batch / (time.perf_counter() - t0)
    nets.predict_logits(net, X.view(len(X), -1)[:1024], device)
    t0 = time.perf_counter()
    reps = 0
    while time.perf_counter() - t0 < seconds / 2:
        nets.predict_logits(net, X.view(len(X), -1), device)
        reps += 1
    sync()
    infer_rate = reps * len(X) / (time.perf_counter() - t0)
    print(f"{name:16s} {nets.count_params(net):>10,} params  batch {batch:4d}  "
          f"train {train_rate:>9,.0f} images/s  inference {infer_rate:>9,.0f} images/s  [{device}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared/data/mnist")
    ap.add_argument("--nets", default="", help="comma-separated model names (default: every net)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--pipeline", action="store_true", help="also time `dvc repro --force`")
    args = ap.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if (args.mnist / "t10k-images-idx3-ubyte.gz").exists():
        bench_parse(args.mnist)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    entries = {k: v for k, v in params["models"].items() if v["kind"] == "net"}
    entries["mlp_800"] = {"layers": MLP_800, "batch_size": 128}
    chosen = args.nets.split(",") if args.nets else list(entries)
    devices = [nets.pick_device(args.device)]
    if devices[0].type == "cuda":
        devices.append(torch.device("cpu"))
    for device in devices:
        for name in chosen:
            e = entries[name]
            bench_net(name, e["layers"], max(int(e.get("batch_size", 128)), 64), device, args.seconds)
    if args.pipeline:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dvc", "repro", "--force"], cwd=ROOT, check=True)
        print(f"pipeline: default `dvc repro --force` in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
