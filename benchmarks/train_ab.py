"""A/B of training-loop options, each against the loop as recipes/nets/training.py runs it.

    python benchmarks/train_ab.py [--nets speedrun,network3_2conv] [--rounds 5] [--steps 20]
                                  [--precision bf16] [--no-compile] [--entry FILE.yaml]

A is `training.train_step` as `NetClassifier.fit` calls it: the entry's batch, threads and
precision, the net channels-last, `torch.optim.Adam` with its defaults. Each B changes one
thing. A and B run in turn, A B A B ... (`--rounds` pairs of `--steps` steps each), and the
figure is the median of the pair-by-pair ratios B/A of images/s, so that a machine whose
speed drifts (a shared one) moves both sides alike. Options:

- compile: `torch.compile(net)`; its compile time (the first steps less steady ones) is
  printed and the break-even number of images with it;
- batch x2, x4 with the learning rate scaled the same (images/s only: whether accuracy
  holds is a validation question, see docs/speed.md);
- Adam fused=True, Adam foreach=True;
- contiguous (not channels-last) net and batches;
- the layers' written order: a ReLU before the max-pool that follows it, as the list says
  (`nets.build` moves the pool first);
- threads: 1 and 2 against the entry's count.

"same" is whether B's weights after the same steps on the same batches equal A's bit for
bit (else the largest difference): an option that changes them changes the figures the
committed entries were trained to. "rerun" is whether B run twice gives identical weights.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes import nets  # noqa: E402
from recipes.nets.precision import cpu_bf16  # noqa: E402
from recipes.nets.training import train_step  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from speedrun import load_entry, machine  # noqa: E402


def make(entry: dict, opt_kw: dict | None = None, channels_last: bool = True, compiled: bool = False,
         lr_scale: float = 1.0, written_order: bool = False):
    torch.manual_seed(0)
    net = nets.build(entry["layers"])
    if written_order:   # the ReLU back before its max-pool, as the layer list has them
        mods = list(net)
        for k in range(len(mods) - 1):
            if isinstance(mods[k], torch.nn.MaxPool2d) and isinstance(mods[k + 1], torch.nn.ReLU):
                mods[k], mods[k + 1] = mods[k + 1], mods[k]
        net = torch.nn.Sequential(*mods)
    conv = nets.has_conv(net)
    if conv and channels_last:
        net = net.to(memory_format=torch.channels_last)
    lr = float(entry.get("lr", 1e-3)) * lr_scale
    opt = torch.optim.Adam(net.parameters(), lr=lr, **(opt_kw or {}))
    model = torch.compile(net) if compiled else net
    return net, model, opt, conv and channels_last


def data(n: int = 8192):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    return X, torch.randint(0, 10, (n,), generator=g)


class Runner:
    """One configuration, kept between rounds: run(steps) -> seconds."""

    def __init__(self, entry, precision, threads, batch, **kw):
        self.net, self.model, self.opt, self.conv = make(entry, **kw)
        self.precision, self.threads, self.batch = precision, threads, batch
        self.X, self.y = data()
        self.i = 0

    def run(self, steps: int) -> float:
        torch.set_num_threads(self.threads)
        self.model.train()
        t0 = time.perf_counter()
        for _ in range(steps):
            j = self.i % (len(self.X) // self.batch)
            self.i += 1
            sl = slice(j * self.batch, (j + 1) * self.batch)
            train_step(self.model, self.opt, self.X[sl], self.y[sl], self.conv, None, None, self.precision)
        return time.perf_counter() - t0


def weights_after(entry, precision, threads, batch, steps=10, **kw):
    r = Runner(entry, precision, threads, batch, **kw)
    r.run(steps)
    return [p.detach().clone() for p in r.net.parameters()]


def compare(wa, wb) -> str:
    if all(torch.equal(a, b) for a, b in zip(wa, wb)):
        return "identical"
    return f"max diff {max((a - b).abs().max().item() for a, b in zip(wa, wb)):.1e}"


def ab(name, entry, precision, threads, batch, rounds, steps, label, b_kw, b_threads=None,
       b_batch=None) -> None:
    a = Runner(entry, precision, threads, batch)
    t_first = time.perf_counter()
    b = Runner(entry, precision, b_threads or threads, b_batch or batch, **b_kw)
    b.run(1)   # a compiled net compiles here
    first = time.perf_counter() - t_first
    a.run(2)
    b.run(2)
    ratios, rates_a, rates_b = [], [], []
    for _ in range(rounds):
        ra = steps * a.batch / a.run(steps)
        b_steps = max(1, steps * a.batch // b.batch)
        rb = b_steps * b.batch / b.run(b_steps)
        rates_a.append(ra)
        rates_b.append(rb)
        ratios.append(rb / ra)
    ratio = statistics.median(ratios)
    extra = ""
    if b_kw.get("compiled"):
        compile_s = first - b.batch / statistics.median(rates_b)
        gain = 1 / statistics.median(rates_a) - 1 / statistics.median(rates_b)   # s saved per image
        even = f"{compile_s / gain:,.0f} images" if gain > 0 else "never"
        extra = f"  compile {compile_s:.1f} s, break-even after {even}"
    same = rerun = "-"
    if b_batch is None:   # same steps on the same batches: comparable weights
        wa = weights_after(entry, precision, threads, batch)
        wb = weights_after(entry, precision, b_threads or threads, batch, **b_kw)
        same = compare(wa, wb)
        rerun = compare(wb, weights_after(entry, precision, b_threads or threads, batch, **b_kw))
    torch.set_num_threads(threads)
    print(f"{name:14s} {label:26s} A {statistics.median(rates_a):>8,.0f}  B {statistics.median(rates_b):>8,.0f} "
          f"img/s  B/A {ratio:5.2f} (pairs {min(ratios):.2f}-{max(ratios):.2f})  "
          f"same: {same}; rerun: {rerun}{extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="speedrun,network3_2conv")
    ap.add_argument("--entry", type=Path, default=None, help="YAML {name: entry} for speedrun before params.yaml has it")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--precision", default=None, help="default: the entry's (auto: bf16 on AMX)")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated option labels to run (substring match)")
    args = ap.parse_args()
    print(machine())
    default_threads = torch.get_num_threads()
    for name in args.nets.split(","):
        entry, source = load_entry(name, args.entry if name.startswith("speedrun") else None)
        precision = args.precision or entry.get("precision") or "auto"
        if precision == "auto":
            precision = "bf16" if cpu_bf16() == "amx" else "fp32"
        threads = entry.get("threads") or default_threads
        batch = int(entry.get("batch_size", 64))
        print(f"{name} (from {source}): A = batch {batch}, {threads} threads, {precision}, channels-last, "
              f"Adam defaults", flush=True)
        options = [("batch x2, lr x2", {"lr_scale": 2.0}, None, 2 * batch),
                   ("batch x4, lr x4", {"lr_scale": 4.0}, None, 4 * batch),
                   ("Adam fused=True", {"opt_kw": {"fused": True}}, None, None),
                   ("Adam foreach=True", {"opt_kw": {"foreach": True}}, None, None),
                   ("contiguous (no ch.-last)", {"channels_last": False}, None, None),
                   ("ReLU before pool (written)", {"written_order": True}, None, None)]
        options += [(f"threads {t}", {}, t, None) for t in (1, 2) if t != threads]
        if not args.no_compile:
            options.append(("torch.compile", {"compiled": True}, None, None))
        for label, kw, t, bs in options:
            if args.only and not any(o in label for o in args.only.split(",")):
                continue
            try:
                ab(name, entry, precision, threads, batch, args.rounds, args.steps, label, kw, t, bs)
            except Exception as e:   # an option this torch or CPU does not support
                print(f"{name:14s} {label:26s} not run: {type(e).__name__}: {str(e).splitlines()[0][:100]}")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
