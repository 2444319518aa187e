"""Stage leaderboard: every model of `train.models`, best test accuracy first, beside the
published figure each entry reproduces (`models.<name>.reference`).

    python -m recipes.stages.leaderboard

Reads the rows report@<name> wrote in data/leaderboard/; writes reports/leaderboard.md and
reports/leaderboard.json. References are read here, not by train or report: editing a
citation re-runs this stage alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from recipes import config, paths, predictions, seeds
from recipes.atomic import write_text
from recipes.errors import UserError, run


def with_reference(row: dict, params: config.Params) -> dict:
    ref = params.models[row["model"]].reference
    acc = None if ref is None else ref.accuracy
    return {**row, "reference_accuracy": acc, "reference_source": None if ref is None else ref.source,
            "vs_reference": None if acc is None else round(row["accuracy"] - acc, 4)}


def rank(rows: list[dict]) -> list[dict]:
    """Best test accuracy first (ties by name), each row given its `rank` from 1."""
    ordered = sorted(rows, key=lambda r: (-r["accuracy"], r["model"]))
    return [{"rank": i, **r} for i, r in enumerate(ordered, 1)]


def leaderboard_markdown(rows: list[dict]) -> str:
    """The leaderboard as a GitHub markdown table, ready to paste into the README."""
    def pct(x):
        return "—" if x is None else f"{x:.2%}"

    def accuracy(r):  # an entry of several seeds: their spread, not one of them
        if "n_seeds" not in r:
            return pct(r["accuracy"])
        std = "" if r["accuracy_std"] is None else f" ± {100 * r['accuracy_std']:.2f}"
        return f"{pct(r['accuracy'])}{std} ({pct(r['accuracy_min'])}–{pct(r['accuracy_max'])})"

    def model(r):
        if "n_seeds" not in r:
            return r["model"]
        shown = ", ".join(str(x["seed"]) for x in r["seeds"])
        of = "" if r["n_seeds"] == r.get("seeds_declared", r["n_seeds"]) else f" of {r['seeds_declared']}"
        return f"{r['model']} ({r['n_seeds']}{of} seeds: {shown})"

    def num(x, fmt):
        return "—" if x is None else format(x, fmt)

    lines = ["| # | model | test accuracy | error | reference | vs reference | reference source "
             "| parameters | training s | images/s |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        vs = "—" if r["vs_reference"] is None else f"{100 * r['vs_reference']:+.2f} pp"
        source = (r["reference_source"] or "—").replace("|", "\\|")
        lines.append(f"| {r['rank']} | {model(r)} | {accuracy(r)} | {pct(r['error'])} "
                     f"| {pct(r['reference_accuracy'])} | {vs} | {source} "
                     f"| {num(r['n_params'], ',')} | {num(r['train_seconds'], ',.1f')} "
                     f"| {num(r['predict_images_per_s'], ',.0f')} |")
    return "\n".join(lines) + "\n"


def report_leaderboard(params: config.Params, root: Path = Path(".")) -> list[dict]:
    rows = []
    for name in params.train.models + params.train.committees:
        path = root / paths.row(name)
        if not path.exists():
            stage = "committee" if name in params.train.committees else "report"
            raise UserError(f"{path}: no such file (run `dvc repro {stage}@{name}`)")
        rows.append(predictions.read_json(path))
    # the seeds of one entry are one row, ranked by their mean: never by a lucky seed
    rows = [with_reference(r, params) for r in seeds.group(rows)]
    for r in rows:
        if "n_seeds" in r:
            r["seeds_declared"] = len(params.models[r["model"]].seeds)
    rows = rank(rows)
    n = rows[0].get("test_images")
    count = f"{n:,} " if isinstance(n, int) else ""
    limited = "" if n in (None, 10000) else (" (a run with `parse.limit`: not comparable with the "
                                             "figures on all 10,000)")
    text = ("# Leaderboard\n\n"
            f"Test accuracy of every model in `train.models` on the {count}MNIST test digits{limited}, "
            "best first (an entry trained with several seeds: their mean ± standard deviation "
            "and range), next to the published figure each entry reproduces "
            "(`models.<name>.reference` in params.yaml). Training seconds and images/s depend "
            "on the machine (see `cpu` and `device` in reports/<name>/metrics.json).\n\n"
            + leaderboard_markdown(rows))
    write_text(root / paths.LEADERBOARD.with_suffix(".md"), text)
    write_text(root / paths.LEADERBOARD.with_suffix(".json"), json.dumps({"models": rows}, indent=2) + "\n")
    return rows


def main() -> None:
    if len(sys.argv) != 1:
        raise UserError("usage: python -m recipes.stages.leaderboard")
    rows = report_leaderboard(config.load())
    print(f"leaderboard: {len(rows)} model{'s' * (len(rows) != 1)}, best {rows[0]['model']} "
          f"{rows[0]['accuracy']:.2%}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
