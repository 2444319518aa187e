"""Stage committee: assemble a committee from its trained members, evaluate it, report it.

    python -m recipes.stages.committee NAME

Reads data/committees/<name>.json (the members stage's output), checks that every member's
folder still has the files recorded there, and writes models/<name>/ (model.json naming the
members, a copy of each under members/, train.json), then what evaluate@ and report@ write
for a trained model: reports/<name>/metrics.json, confusion.csv, misclassified.png,
confusion.png, data/predictions/<name>.parquet and data/leaderboard/<name>.json. One stage
does all three because evaluate@ and report@ iterate `train.models`, which also drives
train@: a committee trains nothing. Its `train_seconds` is the sum of its members'.
"""

from __future__ import annotations

import json
import sys

from recipes import committee, config, models, paths, tables
from recipes.atomic import atomic_dir
from recipes.errors import UserError, run
from recipes.stages import evaluate, report


def read_resolved(name: str, root=paths.Path(".")) -> dict:
    path = root / paths.committee_entry(name)
    try:
        resolved = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run `dvc repro members@{name}`)") from None
    if resolved.get("kind") != "committee":
        raise UserError(f"{path}: not a committee's (run `dvc repro members@{name}`)")
    for m, files in resolved["members"].items():
        if committee.fingerprint(root / paths.model_dir(m)) != files:
            raise UserError(f"{paths.model_dir(m)} changed since {path} was written: run `dvc repro`")
    return resolved


def assemble(name: str, resolved: dict, root=paths.Path(".")) -> committee.CommitteeClassifier:
    """models/<name>/: the committee, its members copied in."""
    names = resolved["params"]["members"]
    members = {m: models.load(root / paths.model_dir(m)) for m in names}
    # validation accuracy only when every member held the validation split out
    held_out = all(members[m].fit_info_.get("best_val_acc") is not None for m in names)
    X_val, y_val = tables.read(root / paths.VAL) if held_out else (None, None)
    model = models.from_params("committee", resolved["params"]).fit(
        X_val=X_val, y_val=y_val, estimators=members)
    seconds = []
    for m in names:
        info = json.loads((root / paths.model_dir(m) / "train.json").read_text())
        seconds.append(info.get("train_seconds") or 0.0)
    info = {"train_seconds": round(sum(seconds), 2), "n_params": model.n_params_, **model.fit_info_,
            "members": names}
    with atomic_dir(root / paths.model_dir(name)) as tmp:
        models.save(model, tmp, name)
        (tmp / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    return model


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.committee NAME")
    name = sys.argv[1]
    params = config.load()
    assemble(name, read_resolved(name))
    out = evaluate.evaluate(name)
    report.report_model(name, params.report.tiles)
    print(f"committee: {name} test accuracy {out['accuracy']:.2%}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
