"""Speed figures for this machine: the matrix-product ceiling, then training and inference
images/s of each net in float32 and (where AMX runs it) bfloat16, each beside the FLOPs it
does and the fraction of the same-precision ceiling that makes.

    python benchmarks/bench.py [--nets lenet,network3_2conv,...] [--seconds 3] [--threads N]
                               [--precision auto|fp32|bf16] [--parse] [--mnist DIR] [--pipeline]

- ceiling: `torch.mm` of two 2048x2048 matrices, float32 and bfloat16, GFLOP/s (2 n^3 each).
- FLOPs per image from the layer list: forward multiply-adds x2 for conv and dense layers
  (residual blocks: their convs); training counts forward + backward as 3x the forward.
- training: `recipes.nets.training.train_step` on uint8 batches of the entry's batch size,
  the net channels-last as `NetClassifier.fit` has it.
- inference, new: `NetClassifier.predict_proba` of an estimator whose `net_` is set (the
  real path: `inference.prepare` once, then `inference.logits`, batches of 256);
  old: the path before issue 17 (`old_logits`: the raw training net, batches of 4096, no
  swap, no folding, torch's pooling). new/old is the ratio of the two in the same run.
- bf16 figures where `native_bf16` says the CPU runs it natively (AMX or AVX512_BF16), or
  when `--precision bf16` forces them; `fp32` skips them.
- threads: each entry's pinned count unless `--threads` says; printed on every line.

Nets are the `kind: net` entries of params.yaml (default: every one) plus `mlp_800`
(784-800-10). Figures vary with what else runs on the machine: say so with them.
"""

from __future__ import annotations

import argparse
import math
import statistics
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
from recipes.nets import NetClassifier  # noqa: E402
from recipes.nets import layers as L  # noqa: E402
from recipes.nets.precision import cpu_bf16, native_bf16  # noqa: E402
from recipes.nets.training import train_step  # noqa: E402
from recipes.stages import parse  # noqa: E402

MLP_800 = [{"type": "dense", "num_units": 800, "nonlinearity": "relu"},
           {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def machine_line() -> str:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (f"CPU: {model}; torch {torch.__version__}, capability "
            f"{torch.backends.cpu.get_cpu_capability()}, cpu_bf16 {cpu_bf16()}, "
            f"{torch.get_num_threads()} threads by default")


def forward_flops(layers) -> int:
    """Forward FLOPs per image: 2 x the multiply-adds of the conv and dense layers."""
    macs = 0
    for _i, s, shape, out, _pad in L._walk(layers, "bench"):
        if s.type == "conv":
            macs += math.prod(out) * shape[0] * s.filter_size ** 2
        elif s.type == "dense":
            macs += math.prod(shape) * s.num_units
        elif s.type == "residual":
            c, n, k = shape[0], s.num_filters, s.filter_size
            hw = out[1] * out[2]
            macs += hw * n * (c * k * k + n * k * k)
            if c != n or s.stride != 1:
                macs += hw * n * c
    return 2 * macs


def mm_ceiling(dtype: torch.dtype, seconds: float, n: int = 2048) -> float:
    """GFLOP/s of torch.mm of two n x n matrices (the median of timed calls)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def timed_rate(fn, images: int, seconds: float) -> float:
    """images/s of fn() (which handles `images` images): the median of timed calls."""
    fn()
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return images / statistics.median(times)


@torch.no_grad()
def old_logits(net, X, device, precision):
    """The inference path before issue 17 ("today's" figure the 4x goal is measured against):
    the raw training net, batches of 4096, channels-last, autocast."""
    net.eval()
    conv = nets.has_conv(net)
    out = []
    for xb in X.split(4096):
        xb = tables.to_unit(xb.to(device)).view(-1, *L.INPUT_SHAPE)
        if conv:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out.append(net(xb).float())
    return torch.cat(out)


def bench_net(name: str, entry: dict, precision: str, seconds: float, ceiling: dict) -> None:
    layers, batch = entry["layers"], int(entry.get("batch_size", 128))
    device = torch.device("cpu")
    torch.manual_seed(0)
    net = nets.build(layers, name)
    conv = nets.has_conv(net)
    if conv:
        net = net.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (8192, 784), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (8192,), generator=gen)
    Xi = X.view(-1, *L.INPUT_SHAPE)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    steps = max(1, 2048 // batch)
    state = {"i": 0}

    def train():
        net.train()
        for _ in range(steps):
            i = state["i"] % (len(X) // batch)
            state["i"] += 1
            train_step(net, opt, Xi[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch],
                       conv, None, gen, precision)

    train_rate = timed_rate(train, steps * batch, seconds)

    est = NetClassifier(layers=layers, device="cpu", precision=precision)
    est.net_ = net.to(memory_format=torch.contiguous_format).eval()
    est.classes_ = np.arange(L.N_CLASSES)
    est.precision_ = precision
    Xn = X.numpy()
    new_rate = timed_rate(lambda: est.predict_proba(Xn), len(X), seconds / 2)
    if conv:
        net = net.to(memory_format=torch.channels_last)   # the raw net as training has it
    old_rate = timed_rate(lambda: old_logits(net, X, device, precision), len(X), seconds / 2)

    fwd = forward_flops(layers)
    c = ceiling[precision] * 1e9

    def frac(rate, flops):
        return f"{rate * flops / c:6.1%}"

    print(f"{name:18s} {precision} {torch.get_num_threads()}t  fwd {fwd / 1e6:7.2f} MFLOP  "
          f"train {train_rate:>8,.0f} img/s ({frac(train_rate, 3 * fwd)} of mm)  "
          f"infer {new_rate:>8,.0f} img/s ({frac(new_rate, fwd)})  "
          f"old {old_rate:>8,.0f} img/s  new/old {new_rate / old_rate:4.2f}x  [batch {batch}]",
          flush=True)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="", help="comma-separated model names (default: every net)")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing per figure")
    ap.add_argument("--threads", type=int, default=0, help="0: each entry's pinned count")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="auto: fp32, and bf16 too where the CPU runs it natively")
    ap.add_argument("--parse", action="store_true", help="also time reading and parsing MNIST")
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared/data/mnist")
    ap.add_argument("--pipeline", action="store_true", help="also time `dvc repro --force`")
    args = ap.parse_args()

    print(machine_line())
    precisions = {"auto": ["fp32"] + (["bf16"] if native_bf16(torch.device("cpu")) else []),
                  "fp32": ["fp32"], "bf16": ["fp32", "bf16"]}[args.precision]
    if args.parse and (args.mnist / "t10k-images-idx3-ubyte.gz").exists():
        bench_parse(args.mnist)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    entries = {k: v for k, v in params["models"].items() if v["kind"] == "net"}
    entries["mlp_800"] = {"layers": MLP_800, "batch_size": 128}
    chosen = args.nets.split(",") if args.nets else list(entries)
    unknown = [n for n in chosen if n not in entries]
    if unknown:
        ap.error(f"--nets: no net entry {', '.join(unknown)} (known: {', '.join(entries)})")

    default_threads = torch.get_num_threads()
    ceiling = {}
    for threads in sorted({args.threads or entries[n].get("threads") or default_threads for n in chosen}):
        torch.set_num_threads(threads)
        for p in precisions:
            ceiling[threads, p] = mm_ceiling(DTYPES[p], args.seconds / 2)
            print(f"ceiling: torch.mm 2048x2048 {p}, {threads} threads: {ceiling[threads, p]:,.0f} GFLOP/s",
                  flush=True)
    for name in chosen:
        threads = args.threads or entries[name].get("threads") or default_threads
        torch.set_num_threads(threads)
        for p in precisions:
            bench_net(name, entries[name], p, args.seconds, {q: ceiling[threads, q] for q in precisions})
    torch.set_num_threads(default_threads)
    if args.pipeline:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dvc", "repro", "--force"], cwd=ROOT, check=True)
        print(f"pipeline: default `dvc repro --force` in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
