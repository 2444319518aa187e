"""Every path the pipeline reads or writes, relative to the project root, in one place.

dvc.yaml spells the same paths (DVC needs them literally); tests/test_layout.py checks that the
two agree.
"""

from __future__ import annotations

from pathlib import Path

RAW = Path("data/raw")
TABLES = Path("data/tables")
TRAIN = TABLES / "train.parquet"
TEST = TABLES / "test.parquet"
TRAIN_SPLIT = TABLES / "train_split.parquet"
VAL = TABLES / "val.parquet"
EXPANDED = TABLES / "train_expanded.parquet"
PHOTOS = TABLES / "train_photos.parquet"
DATA = {"train_split": TRAIN_SPLIT, "expanded": EXPANDED, "photos": PHOTOS}  # what `data:` of an entry names

RESOLVED = Path("data/resolved")          # resolve: the entry train@<name> depends on
COMMITTEES = Path("data/committees")      # members@<name>: what committee@<name> assembles
PREDICTIONS = Path("data/predictions")    # evaluate@<name>: label, pred, prob_0..prob_9
ROWS = Path("data/leaderboard")           # report@<name>: its leaderboard row
TRAINED = Path("data/trained")            # evaluate@<name>: md5 of each file of models/<name>/
MODELS = Path("models")
CHECKPOINTS = Path("checkpoints")
REPORTS = Path("reports")
COMPARE = REPORTS / "compare"
LEADERBOARD = REPORTS / "leaderboard"
EXPAND_FIGURE = REPORTS / "expand" / "distortions.png"
PHOTOS_FIGURE = REPORTS / "photos" / "digits.png"


def resolved(name: str) -> Path:
    return RESOLVED / f"{name}.json"


def committee_entry(name: str) -> Path:
    return COMMITTEES / f"{name}.json"


def model_dir(name: str) -> Path:
    return MODELS / name


def checkpoint(name: str) -> Path:
    return CHECKPOINTS / name / "last.pt"


def reports(name: str) -> Path:
    return REPORTS / name


def metrics(name: str) -> Path:
    return REPORTS / name / "metrics.json"


def live(name: str) -> Path:
    return REPORTS / name / "live"


def predictions(name: str) -> Path:
    return PREDICTIONS / f"{name}.parquet"


def row(name: str) -> Path:
    return ROWS / f"{name}.json"


def trained(name: str) -> Path:
    return TRAINED / f"{name}.json"
