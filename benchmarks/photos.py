"""Train the photo-model candidates and score them on the photo benchmark's pages.

    OMP_NUM_THREADS=1 python benchmarks/photos.py train NAME [--epochs N]   # -> data/photo_models/NAME/
                                              # (photo_cnn also -> models/photo_cnn/, the reader's default)
    python benchmarks/photos.py score NAME... [--pages data/photos_dev]   # exact / digit rates

`photo_cnn` is params.yaml's entry of that name, as `recipes.config.resolve` gives it; every
other candidate is that entry with another `augment:` (network3_2conv's net, trained on the
pipeline's training split, split_indices(y, 10000, 42), validated on the other 10,000).
`strokes` is the stroke-width variation (recipes.handwriting.strokes), an `augment:` part
of recipes.distort. Candidates are compared by `score` on the generator's dev pages
(python -m recipes.handwriting.synth --seed 1), never on the benchmark (seed 0), MNIST's
test set or the shared photos; the benchmark figure of the one chosen is taken once.
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

PHOTO_AFFINE = {"degrees": 12, "scale": [0.8, 1.1], "shear": 20, "translate": 2}
CANDIDATES = {   # name: the `augment:` of params.yaml's photo_cnn replaced by this (None: as it is)
    "photo_cnn": None,
    "plain": {},                                                    # network3_2conv as it is
    "affine": {"affine": PHOTO_AFFINE},
    "elastic_affine": {"elastic": {"alpha": 34, "sigma": 6}, "affine": PHOTO_AFFINE},
    "elastic_affine_strokes": {"elastic": {"alpha": 34, "sigma": 6}, "affine": PHOTO_AFFINE,
                               "strokes": {"thicker": 0.3, "thinner": 0.15}},
    "elastic_affine_bold": {"elastic": {"alpha": 34, "sigma": 6}, "affine": PHOTO_AFFINE,
                            "strokes": {"thicker": 0.5, "thinner": 0.2}},
}
OUT = ROOT / "data" / "photo_models"


def entry(name: str, epochs: int | None = None) -> dict:
    """params.yaml's photo_cnn, resolved, with candidate `name`'s augment and `epochs`."""
    from recipes import config
    e = copy.deepcopy(config.resolve(config.load(ROOT / "params.yaml"), "photo_cnn")["params"])
    e["device"] = "cpu"
    if CANDIDATES[name] is not None:
        e["augment"] = copy.deepcopy(CANDIDATES[name]) or None
    if e.get("augment") is None:
        e.pop("augment", None)
    if epochs:
        e["epochs"] = epochs
    return {"kind": "net", **e}


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
    t = time.time()
    m = models.create(name, e).fit(X[tr], y[tr], X_val=X[va], y_val=y[va])
    models.save(m, OUT / name, name)
    if name == "photo_cnn":  # where the reader looks for its default model (recipes.handwriting.read)
        models.save(m, ROOT / "models" / name, name)
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
    s.add_argument("--pages", type=Path, default=ROOT / "data" / "photos_dev")
    args = ap.parse_args()
    if args.cmd == "train":
        train(args.name, args.epochs)
    else:
        score(args.names, args.pages)


if __name__ == "__main__":
    main()
