"""Stage report: pictures of what one evaluated model gets right and wrong, and its
leaderboard row.

    python -m recipes.stages.report NAME

Reads data/predictions/<name>.parquet, reports/<name>/metrics.json and the test images;
writes reports/<name>/misclassified.png (the test digits it got wrong, most confident
mistakes first, up to `report.tiles`), reports/<name>/confusion.png, and
data/leaderboard/<name>.json, the row the leaderboard stage ranks. The row goes through
data/leaderboard/ so that the one leaderboard stage can depend on every model's row as a
single directory: DVC cannot list a dependency per entry of a params list.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from recipes import config, gallery, paths, predictions
from recipes.atomic import write_text
from recipes.errors import UserError, run
from recipes.predictions import confidence

ROW_KEYS = ("accuracy", "error", "n_params", "train_seconds", "predict_images_per_s")


def mistakes(pred: pd.DataFrame) -> pd.DataFrame:
    """Rows predicted wrong as (index, label, pred, prob), most confident mistake first."""
    wrong = pred[pred["label"] != pred["pred"]]
    out = pd.DataFrame({"index": wrong["index"].to_numpy(np.int64),
                        "label": wrong["label"].to_numpy(np.int64),
                        "pred": wrong["pred"].to_numpy(np.int64),
                        "prob": confidence(wrong)})
    return out.sort_values(["prob", "index"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)



def leaderboard_row(name: str, metrics: dict) -> dict:
    """One model's row of the leaderboard, from its metrics (its reference is added there)."""
    missing = [k for k in ROW_KEYS if k not in metrics]
    if missing:
        raise UserError(f"metrics of `{name}`: missing {', '.join(missing)} (re-run evaluate)")
    keep = ("kind", "device", "test_images", "seed", "threads", "cpu_capability")
    return {"model": name, **{k: metrics[k] for k in ROW_KEYS}, **{k: metrics.get(k) for k in keep}}


def mistake_section(wrong: pd.DataFrame, images: np.ndarray, tiles: int,
                    empty: str = "no misclassified digits") -> gallery.Section:
    shown = wrong.head(tiles)
    captions = [f"true {r.label}  pred {r.pred}\nprob {r.prob:.3f}  #{r.index}"
                for r in shown.itertuples()]
    heading = (f"all {len(wrong):,} mistakes" if len(shown) == len(wrong)
               else f"the {len(shown)} most confident of {len(wrong):,} mistakes")
    return gallery.Section(heading + ", most confident first" if len(wrong) else "mistakes",
                           images[shown["index"].to_numpy()], captions, empty=empty)


def draw_mistakes(path: Path, name: str, pred: pd.DataFrame, images: np.ndarray,
                  tiles: int = 120) -> tuple[pd.DataFrame, list[gallery.Tile]]:
    """reports/<name>/misclassified.png; returns (the mistakes shown, the tiles drawn)."""
    wrong = mistakes(pred)
    n = len(pred)
    title = [f"{name}: {len(wrong):,} of {n:,} test digits misclassified "
             f"({len(wrong) / max(n, 1):.2%})",
             "caption: true and predicted digit; prob = the probability the model gave its "
             "(wrong) prediction;",
             f"#N = row of the test set (column `index` of data/predictions/{name}.parquet)"]
    drawn = gallery.draw_gallery(path, title, [mistake_section(wrong, images, tiles)])
    return wrong.head(tiles), drawn


def draw_confusion(path: Path, name: str, pred: pd.DataFrame) -> np.ndarray:
    counts = gallery.confusion_counts(pred["label"], pred["pred"])
    n = int(counts.sum())
    top = gallery.top_confusions(counts)
    title = [f"{name}: confusion matrix on {n:,} test digits "
             f"(accuracy {np.trace(counts) / max(n, 1):.2%})",
             "rows: true digit, columns: predicted digit; mistakes shaded red by count",
             "most common mistakes (true→predicted): "
             + (",  ".join(f"{t}→{p} ×{c}" for t, p, c in top[:4]) if top else "none")]
    return gallery.draw_confusion(path, counts, title)


def report_model(name: str, tiles: int, root: Path = Path(".")) -> dict:
    """Pictures and leaderboard row of one model; returns the row."""
    pred_path = root / paths.predictions(name)
    pred = predictions.read(pred_path)
    metrics = predictions.read_json(root / paths.metrics(name))
    acc = float((pred["label"] == pred["pred"]).mean()) if len(pred) else 0.0
    if abs(metrics.get("accuracy", acc) - acc) > 1e-4:
        raise UserError(f"{root / paths.metrics(name)}: accuracy {metrics['accuracy']} "
                        f"but {pred_path} gives {acc:.4f} (re-run evaluate@{name})")
    images = predictions.test_images(pred, pred_path, root)
    draw_mistakes(root / paths.reports(name) / "misclassified.png", name, pred, images, tiles)
    draw_confusion(root / paths.reports(name) / "confusion.png", name, pred)
    row = leaderboard_row(name, metrics)
    write_text(root / paths.row(name), json.dumps(row, indent=2) + "\n")
    return row


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.report NAME")
    params = config.load()
    row = report_model(sys.argv[1], params.report.tiles)
    print(f"report: {sys.argv[1]} {row['accuracy']:.2%}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
