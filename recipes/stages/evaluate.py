"""Stage evaluate: one trained model on the test set.

    python -m recipes.stages.evaluate NAME

Writes reports/<name>/metrics.json (accuracy, error, per-digit precision/recall/F1/support,
training seconds, prediction images/s, parameter count, and what the figures depend on:
seed, threads, device, the CPU and its vector extension, library versions),
reports/<name>/confusion.csv (actual, predicted) for DVC's confusion plot, and
data/predictions/<name>.parquet (index, label, pred, prob_0..prob_9) for the reports, and
data/trained/<name>.json (the md5 of each file of models/<name>/) for the committees.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from recipes import committee, models, paths, predictions, tables
from recipes.atomic import atomic_path, write_text
from recipes.errors import UserError, run


def metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    acc = float((y == pred).mean())
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(10), zero_division=0)
    per_digit = {str(d): {"precision": round(float(p[d]), 4), "recall": round(float(r[d]), 4),
                          "f1": round(float(f[d]), 4), "support": int(s[d])} for d in range(10)}
    return {"accuracy": round(acc, 4), "error": round(1 - acc, 4), "per_digit": per_digit}


def versions() -> dict:
    import sklearn
    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    return out


def evaluate(name: str, root=paths.Path(".")) -> dict:
    model_dir = root / paths.model_dir(name)
    model = models.load(model_dir)
    X, y = tables.read(root / paths.TEST)
    model.predict_proba(X[:256])  # warm-up, so the timing below is the steady rate
    t0 = time.perf_counter()
    proba = model.predict_proba(X)
    seconds = time.perf_counter() - t0
    pred = proba.argmax(1)
    try:
        train_info = json.loads((model_dir / "train.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError) as e:
        raise UserError(f"{model_dir / 'train.json'}: missing or not JSON ({type(e).__name__}); "
                        f"re-run `dvc repro train@{name}`") from None
    hyper = model.get_params()
    out = metrics(y, pred)
    out.update(
        train_seconds=train_info.get("train_seconds"),
        predict_images_per_s=round(len(y) / seconds),
        n_params=model.n_params_,
        test_images=int(len(y)),
        kind=model.kind,
        seed=hyper.get("seed"),
        threads=hyper.get("threads"),
        device=train_info.get("device", "cpu"),
        precision=train_info.get("precision"),
        cpu=train_info.get("cpu"),
        cpu_capability=train_info.get("cpu_capability"),
        versions=versions(),
    )
    for key in ("best_epoch", "epochs", "best_val_acc", "train_images"):
        if key in train_info:
            out[key] = train_info[key]
    write_text(root / paths.metrics(name), json.dumps(out, indent=2) + "\n")
    conf = pd.DataFrame({"actual": y, "predicted": pred})
    with atomic_path(root / paths.reports(name) / "confusion.csv") as tmp:
        conf.to_csv(tmp, index=False)
    with atomic_path(root / paths.predictions(name)) as tmp:
        predictions.frame(y, proba).to_parquet(tmp, index=False)
    return out


def stamp(name: str, root=paths.Path(".")) -> None:
    """data/trained/<name>.json: the md5 of each file of the model just evaluated. The
    committees' stages depend on this folder: DVC cannot give a foreach stage a list of
    model folders, and models/ itself holds the committees' own folders."""
    files = committee.fingerprint(root / paths.model_dir(name))
    write_text(root / paths.trained(name), json.dumps({"model": name, "files": files}, indent=2) + "\n")


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.evaluate NAME")
    out = evaluate(sys.argv[1])
    stamp(sys.argv[1])
    note = "" if out["test_images"] == 10000 else f" (on {out['test_images']:,} test images: parse.limit)"
    print(f"evaluate: {sys.argv[1]} test accuracy {out['accuracy']:.2%}{note}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
