"""Stage train: fit one model of params.yaml on the training split, save it to models/<name>/.

    python -m recipes.train NAME

Nets log each epoch with DVCLive to reports/<name>/live/ and keep a checkpoint in
checkpoints/<name>/ so that an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from recipes import models, tables
from recipes import params as P
from recipes.atomic import atomic_dir
from recipes.errors import UserError, run

DATA = {"train_split": "data/tables/train_split.parquet", "expanded": "data/tables/train_expanded.parquet"}
VAL = "data/tables/val.parquet"


def training_data(name: str, entry: dict):
    """(X, y, X_val, y_val) for the entry: its `data`, and the validation split held out,
    or, with `train_on_val: true`, trained on too and nothing held out."""
    source = entry.get("data", "train_split")
    if source not in DATA:
        raise UserError(f"models.{name}.data: must be one of {', '.join(DATA)}, got {source!r}")
    on_val = entry.get("train_on_val", False)
    if not isinstance(on_val, bool):
        raise UserError(f"models.{name}.train_on_val: must be true or false, got {on_val!r}")
    if on_val and source != "train_split":
        raise UserError(f"models.{name}.train_on_val: works with data: train_split only "
                        f"(the expand stage expands the training split alone)")
    X, y = tables.read(DATA[source])
    X_val, y_val = tables.read(VAL)
    if on_val:
        # the settings were chosen on validation first; the final fit learns from all 60,000
        # training images, as Simard's did, and keeps its last epoch
        return np.concatenate([X, X_val]), np.concatenate([y, y_val]), None, None
    return X, y, X_val, y_val


def train(name: str, entry: dict, out: Path, live_dir: Path | None = None,
          checkpoint: Path | None = None) -> dict:
    X, y, X_val, y_val = training_data(name, entry)
    test = tables.read("data/tables/test.parquet")
    model = models.create(name, entry)
    t0 = time.perf_counter()
    model.fit(X, y, X_val, y_val, test=test, live_dir=live_dir, checkpoint=checkpoint)
    seconds = time.perf_counter() - t0
    info = {"train_seconds": round(seconds, 2), "train_images": int(len(y)),
            "n_params": model.n_params, **model.fit_info_}
    with atomic_dir(out) as tmp:
        model.save(tmp)
        (tmp / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.train NAME")
    name = sys.argv[1]
    entry = P.model_entry(P.load(), name)
    # a persistent stage output in dvc.yaml: it must exist even for models that never resume
    (Path("checkpoints") / name).mkdir(parents=True, exist_ok=True)
    info = train(name, entry, Path("models") / name, live_dir=Path("reports") / name / "live",
                 checkpoint=Path("checkpoints") / name / "last.pt")
    print(f"train: {name} in {info['train_seconds']:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    run(main)
