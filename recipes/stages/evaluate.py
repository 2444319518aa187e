"""Stage evaluate: one trained model on the test set.

    python -m recipes.evaluate NAME

Writes reports/<name>/metrics.json (accuracy, error, per-digit precision/recall/F1/support,
training seconds, prediction images/s, parameter count, and the context that explains them),
reports/<name>/confusion.csv (actual, predicted) for DVC's confusion plot, and
data/predictions/<name>.parquet (index, label, pred, prob_0..prob_9) for the reports.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from recipes import models, tables
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


def predictions_frame(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"index": np.arange(len(y), dtype=np.int32), "label": y.astype(np.uint8),
                       "pred": proba.argmax(1).astype(np.uint8)})
    for d in range(proba.shape[1]):
        df[f"prob_{d}"] = proba[:, d]
    return df


def evaluate(model_dir: Path, test_table: Path, reports: Path, predictions: Path) -> dict:
    model = models.load(model_dir)
    X, y = tables.read(test_table)
    model.predict_proba(X[:256])  # warm-up, so the timing below is the steady rate
    t0 = time.perf_counter()
    proba = model.predict_proba(X)
    seconds = time.perf_counter() - t0
    pred = proba.argmax(1)
    train_info = json.loads((model_dir / "train.json").read_text())
    out = metrics(y, pred)
    out.update(
        train_seconds=train_info["train_seconds"],
        predict_images_per_s=round(len(y) / seconds),
        n_params=model.n_params,
        test_images=int(len(y)),
        kind=model.kind,
        device=train_info.get("device", "cpu"),
        versions=versions(),
    )
    for key in ("best_epoch", "epochs"):
        if key in train_info:
            out[key] = train_info[key]
    reports.mkdir(parents=True, exist_ok=True)
    write_text(reports / "metrics.json", json.dumps(out, indent=2) + "\n")
    conf = pd.DataFrame({"actual": y, "predicted": pred})
    with atomic_path(reports / "confusion.csv") as tmp:
        conf.to_csv(tmp, index=False)
    with atomic_path(predictions) as tmp:
        predictions_frame(y, proba).to_parquet(tmp, index=False)
    return out


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.evaluate NAME")
    name = sys.argv[1]
    out = evaluate(Path("models") / name, Path("data/tables/test.parquet"),
                   Path("reports") / name, Path("data/predictions") / f"{name}.parquet")
    print(f"evaluate: {name} test accuracy {out['accuracy']:.2%}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
