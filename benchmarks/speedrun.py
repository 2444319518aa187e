"""Speedrun: test accuracy of `speedrun` over 5 seeds, its training seconds, and the seconds
PyTorch's own examples/mnist recipe needs to reach 99.0% on the same machine.

    python benchmarks/speedrun.py [--name speedrun] [--entry FILE.yaml] [--seeds 0,1,2,3,4]
                                  [--data all|split] [--photos TABLE] [--threads N] [--no-baseline]
                                  [--baseline-epochs 14] [--mnist DIR]

The entry is `models.<name>` of params.yaml, or the YAML file `--entry` names (a mapping
{name: entry} or one entry); --entry wins when given.
Each seed's seconds are those of `models.create(name, entry).fit(X, y)`: from the uint8
arrays in memory to the trained model, evaluation excluded. `--data all` (the default)
trains on all 60,000 training images, as the entries' `train_on_val: true` final fit does;
`--data split` on the pipeline's 50,000-image split only. `--photos TABLE` adds the photo
digits of the photos stage's table (cut from the split's digits), as an entry's `data: photos`
does. The settings were chosen on the validation split (`--data split --eval val` prints
those figures), never on the test set.

The baseline is examples/mnist as a user would run it: its Net (conv32 3x3, conv64 3x3,
maxpool, dropout 0.25, fc128, dropout 0.5, fc10, log_softmax), Adadelta lr 1.0, StepLR
gamma 0.7, batch 64 shuffled by a DataLoader over a TensorDataset of the 60,000 images as
float tensors normalised with (0.1307, 0.3081), test batch 1000; it stops at the first epoch
whose test accuracy reaches 99.0%. Its seconds are training only (evaluation excluded, as for
the speedrun), with the same thread count as the speedrun unless --baseline-threads says.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes import idx, models, tables  # noqa: E402
from recipes.errors import UserError, run  # noqa: E402
from recipes.nets.precision import cpu_bf16  # noqa: E402
from recipes.stages.split import split_indices  # noqa: E402

TARGET = 0.99   # the baseline's stopping accuracy


def machine() -> str:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (f"CPU: {model}, {torch.get_num_threads()} torch threads by default; "
            f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}, "
            f"cpu_bf16 {cpu_bf16()}")


def load_entry(name: str, entry_file: Path | None) -> tuple[dict, str]:
    if entry_file is not None:
        raw = yaml.safe_load(entry_file.read_text())
        if isinstance(raw, dict) and "kind" not in raw:
            raw = raw[name]
        return dict(raw), str(entry_file)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if name in params.get("models", {}):
        entry = dict(params["models"][name])
        for key in ("seed", "epochs", "device", "threads", "precision"):   # inherited defaults
            entry.setdefault(key, params.get(key))
        return entry, "params.yaml"
    raise UserError(f"--name {name}: no such entry in params.yaml (give --entry FILE.yaml)")


def hyper(entry: dict) -> dict:
    """The entry without the pipeline's own keys (models.create takes and drops them too)."""
    return {k: v for k, v in entry.items() if k not in ("reference", "data", "train_on_val", "seeds")}


def load_mnist(mnist: Path):
    X, y = idx.read_pair(mnist / "train-images-idx3-ubyte.gz", mnist / "train-labels-idx1-ubyte.gz")
    Xt, yt = idx.read_pair(mnist / "t10k-images-idx3-ubyte.gz", mnist / "t10k-labels-idx1-ubyte.gz")
    return X.reshape(len(X), -1), y, Xt.reshape(len(Xt), -1), yt


def photo_digits(path: Path, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo digits of the photos stage's table: the rows after the split, which the table
    must begin with (a table of another split or seed could hold validation digits)."""
    Xp, yp = tables.read(path)
    n = len(y)
    if len(yp) < n or not (np.array_equal(Xp[:n], X) and np.array_equal(yp[:n], y)):
        raise UserError(f"{path}: does not begin with the pipeline's 50,000-image split "
                        f"(split.seed 42, val_size 10000): not the photos stage's table of this split")
    return Xp[n:], yp[n:]


def run_speedrun(name, entry, seeds, X, y, Xe, ye, what) -> list[tuple[int, float, float]]:
    rows = []
    for seed in seeds:
        e = {**hyper(entry), "seed": seed}
        model = models.create(name, e)
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
        acc = float((model.predict(Xe) == ye).mean())
        rows.append((seed, acc, seconds))
        print(f"  seed {seed}: {what} accuracy {acc:.2%}  training {seconds:.2f} s", flush=True)
    accs = [r[1] for r in rows]
    secs = [r[2] for r in rows]
    worst = min(rows, key=lambda r: r[1])
    print(f"{name}: mean {what} accuracy {np.mean(accs):.2%} over {len(rows)} seeds, worst "
          f"{worst[1]:.2%} (seed {worst[0]}); training mean {np.mean(secs):.2f} s, max {max(secs):.2f} s")
    return rows


# ---- the baseline: PyTorch examples/mnist ------------------------------------------------

class ExampleNet(torch.nn.Module):
    """examples/mnist/main.py's Net."""

    def __init__(self):
        super().__init__()
        from torch import nn
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        import torch.nn.functional as F
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def run_baseline(X, y, Xt, yt, max_epochs: int, seed: int = 1) -> tuple[float | None, int, float]:
    """(training seconds to the first epoch at >= 99.0% test, or None; epochs; last accuracy)."""
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)   # the example's --seed default
    t0 = time.perf_counter()

    def floats(a):   # ToTensor + Normalize((0.1307,), (0.3081,)), once for the whole set
        return ((torch.from_numpy(a).float().div(255).view(-1, 1, 28, 28)) - 0.1307) / 0.3081

    train = DataLoader(TensorDataset(floats(X), torch.from_numpy(y.astype(np.int64))),
                       batch_size=64, shuffle=True)
    test = DataLoader(TensorDataset(floats(Xt), torch.from_numpy(yt.astype(np.int64))), batch_size=1000)
    model = ExampleNet()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    training = time.perf_counter() - t0
    acc = 0.0
    for epoch in range(1, max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        for data, target in train:
            opt.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            opt.step()
        sched.step()
        training += time.perf_counter() - t0
        model.eval()
        correct = 0
        with torch.no_grad():
            for data, target in test:
                correct += (model(data).argmax(1) == target).sum().item()
        acc = correct / len(yt)
        print(f"  baseline epoch {epoch}: test accuracy {acc:.2%}, training so far {training:.1f} s", flush=True)
        if acc >= TARGET:
            return training, epoch, acc
    return None, max_epochs, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="speedrun")
    ap.add_argument("--entry", type=Path, default=None, help="YAML: {name: entry} or one entry")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--data", choices=["all", "split"], default="all",
                    help="train on all 60,000 (default) or the pipeline's 50,000 split")
    ap.add_argument("--photos", type=Path, default=None,
                    help="also train on the photo digits of this table (the photos stage's "
                         "data/tables/train_photos.parquet), as `data: photos` does")
    ap.add_argument("--eval", choices=["test", "val"], default="test",
                    help="val: the validation split (with --data split), what settings are chosen on")
    ap.add_argument("--threads", type=int, default=None, help="override the entry's threads")
    ap.add_argument("--epochs", type=int, default=None, help="override the entry's epochs")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--baseline-epochs", type=int, default=14, help="the example's default epochs")
    ap.add_argument("--baseline-threads", type=int, default=None)
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared/data/mnist")
    args = ap.parse_args()
    if args.eval == "val" and args.data != "split":
        ap.error("--eval val needs --data split (the validation images are in the 60,000)")

    print(machine())
    # torch.optim imports torch._dynamo (and sympy) on the first optimizer a process makes,
    # about 1 s once: process start-up like the imports above, so outside every timing
    import torch._dynamo  # noqa: F401
    entry, source = load_entry(args.name, args.entry)
    if args.threads is not None:
        entry["threads"] = args.threads
    if args.epochs is not None:
        entry["epochs"] = args.epochs
    X, y, Xt, yt = load_mnist(args.mnist)
    tr, va = split_indices(y, 10000, 42)
    photos = photo_digits(args.photos, X[tr], y[tr]) if args.photos is not None else None
    if args.data == "split":
        Xe, ye = (X[va], y[va]) if args.eval == "val" else (Xt, yt)
        X, y = X[tr], y[tr]
    else:
        Xe, ye = Xt, yt
    if photos is not None:   # after the images, as the photos stage's table and the final fit have them
        X, y = np.concatenate([X, photos[0]]), np.concatenate([y, photos[1]])
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{args.name} (from {source}): threads {entry.get('threads')}, precision "
          f"{entry.get('precision')}, epochs {entry.get('epochs')}, batch {entry.get('batch_size')}; "
          f"trained on {len(X):,} images, {args.eval} on {len(Xe):,}", flush=True)
    rows = run_speedrun(args.name, entry, seeds, X, y, Xe, ye, args.eval)
    if args.no_baseline:
        return
    threads = args.baseline_threads or entry.get("threads") or torch.get_num_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    print(f"baseline: PyTorch examples/mnist, {threads} threads, to {TARGET:.1%} test accuracy", flush=True)
    seconds, epochs, acc = run_baseline(X, y, Xt, yt, args.baseline_epochs)
    torch.set_num_threads(previous)
    mean = float(np.mean([r[2] for r in rows]))
    if seconds is None:
        print(f"baseline: {acc:.2%} after {epochs} epochs, never {TARGET:.1%}: no ratio")
        return
    print(f"baseline: {TARGET:.1%} at epoch {epochs} ({acc:.2%}) after {seconds:.1f} s of training")
    print(f"ratio: baseline {seconds:.1f} s / speedrun mean {mean:.2f} s = {seconds / mean:.1f}x")


if __name__ == "__main__":
    run(main)
