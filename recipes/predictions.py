"""The predictions table evaluate writes and the report stages read: one row per test digit,
`index, label, pred, prob_0 .. prob_9` (index = row of data/tables/test.parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from recipes import paths, tables
from recipes.errors import UserError

N_CLASSES = 10
PROBS = [f"prob_{d}" for d in range(N_CLASSES)]
COLUMNS = ["index", "label", "pred", *PROBS]


def frame(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"index": np.arange(len(y), dtype=np.int32), "label": y.astype(np.uint8),
                       "pred": proba.argmax(1).astype(np.uint8)})
    for d in range(proba.shape[1]):
        df[f"prob_{d}"] = proba[:, d]
    return df


def read(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run `dvc repro evaluate@{path.stem}`)") from None
    except Exception as e:  # pyarrow raises several kinds for a broken file
        raise UserError(f"{path}: not a readable Parquet table ({type(e).__name__})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing[:4])}")
    for col in ("label", "pred"):
        if len(df) and not df[col].between(0, N_CLASSES - 1).all():
            raise UserError(f"{path}: `{col}` must hold digits 0..9")
    return df


def confidence(pred: pd.DataFrame) -> np.ndarray:
    """The probability each row's model gave to its own prediction."""
    probs = pred[PROBS].to_numpy()
    return probs[np.arange(len(pred)), pred["pred"].to_numpy().astype(np.intp)]


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def test_images(pred: pd.DataFrame, path: Path, root: Path = Path(".")) -> np.ndarray:
    """The test images uint8 [N, 28, 28], once the prediction rows' labels match them."""
    X, y = tables.read(root / paths.TEST)
    index = pred["index"].to_numpy(np.int64)
    in_range = len(index) == 0 or (index.min() >= 0 and index.max() < len(y))
    if not in_range or not np.array_equal(y[index], pred["label"].to_numpy()):
        raise UserError(f"{path}: its rows do not match the labels of {paths.TEST} "
                        f"(re-run evaluate after parse)")
    return tables.images(X)
