"""Train the photo-model candidates and score them on the photo benchmark.

    OMP_NUM_THREADS=1 python benchmarks/photos.py train NAME [--epochs N]   # -> data/photo_models/NAME/
    python benchmarks/photos.py score NAME... [--pages data/photos]        # exact / digit rates

Every candidate is network3_2conv's net (params.yaml) trained on the pipeline's training
split (split_indices(y, 10000, 42)); they differ only in their `augment:`. `strokes` is
this project's stroke-width variation (recipes.handwriting.strokes), chained after the
affine/elastic moves here by wrapping recipes.nets' augmenter, until recipes.distort
takes it as an `augment: {strokes: ...}` part. The default is chosen by `score` on the
generated photo benchmark (python -m recipes.handwriting.synth), never on MNIST's test set
or on the shared photos.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NET = {
    "kind": "net", "threads": 1, "seed": 42, "device": "cpu",
    "layers": [{"type": "conv", "num_filters": 20, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "conv", "num_filters": 40, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "dense", "num_units": 100, "nonlinearity": "relu"},
               {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
    "optimizer": "adam", "lr": 0.002, "schedule": "onecycle", "weight_decay": 0.00001,
    "batch_size": 64, "epochs": 20,
}
PHOTO_AFFINE = {"degrees": 12, "scale": [0.8, 1.1], "shear": 20, "translate": 2}
CANDIDATES = {
    "plain": {},                                                    # network3_2conv as it is
    "affine": {"affine": PHOTO_AFFINE},
    "elastic_affine": {"elastic": {"alpha": 34, "sigma": 6}, "affine": PHOTO_AFFINE},
    "elastic_affine_strokes": {"elastic": {"alpha": 34, "sigma": 6}, "affine": PHOTO_AFFINE,
                               "strokes": {"thicker": 0.3, "thinner": 0.15}},
}
OUT = ROOT / "data" / "photo_models"


def entry(name: str, epochs: int | None = None) -> dict:
    e = copy.deepcopy(NET)
    if CANDIDATES[name]:
        e["augment"] = copy.deepcopy(CANDIDATES[name])
    if epochs:
        e["epochs"] = epochs
    return e


def _with_strokes(strokes_cfg):
    """recipes.distort's batch augmenter with the stroke-width variation chained after it."""
    from recipes import distort
    from recipes.handwriting import strokes
    if not strokes_cfg:
        return
    vary = strokes.augmenter(strokes_cfg, "augment.strokes")
    moves = distort.batch_augmenter

    def batch_augmenter(cfg, where):
        f = moves(cfg, where)
        return lambda xb, gen: vary(f(xb, gen), gen)
    distort.batch_augmenter = batch_augmenter


def _save(m, path: Path, name: str) -> None:
    from recipes import models
    if hasattr(models, "save"):
        models.save(m, path, name)
    else:
        m.save(path)


def train(name: str, epochs: int | None) -> None:
    import torch
    from recipes import idx, models
    from recipes.stages.split import split_indices

    torch.set_num_threads(1)
    mnist = ROOT.parent / "shared" / "data" / "mnist"
    X, y = idx.read_pair(mnist / "train-images-idx3-ubyte.gz", mnist / "train-labels-idx1-ubyte.gz")
    X = X.reshape(len(X), -1)
    tr, va = split_indices(y, 10000, 42)
    e = entry(name, epochs)
    fit_entry = copy.deepcopy(e)
    _with_strokes(fit_entry.get("augment", {}).pop("strokes", None))
    t = time.time()
    m = models.create(name, fit_entry).fit(X[tr], y[tr], X_val=X[va], y_val=y[va])
    _save(m, OUT / name, name)
    info = {"name": name, "entry": e, "seconds": round(time.time() - t),
            "val_acc": float((m.predict(X[va]) == y[va]).mean())}
    (OUT / name / "candidate.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))


def score(names: list[str], pages: Path) -> None:
    from recipes.handwriting import read
    for name in names:
        report = read.evaluate(pages, OUT / name, OUT / name / "photos.json", quiet=True)
        print(f"{name}: exact {report['exact_rate']:.1%}, digits {report['digit_rate']:.1%}, "
              f"unsure {report['unsure_digits']}, wrong among sure {report['wrong_among_sure']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("name", choices=sorted(CANDIDATES))
    t.add_argument("--epochs", type=int)
    s = sub.add_parser("score")
    s.add_argument("names", nargs="+")
    s.add_argument("--pages", type=Path, default=ROOT / "data" / "photos")
    args = ap.parse_args()
    if args.cmd == "train":
        train(args.name, args.epochs)
    else:
        score(args.names, args.pages)


if __name__ == "__main__":
    main()
