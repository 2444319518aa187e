"""The table of every named configuration, made from the committed metrics files.

    python -m recipes.results            # writes docs/results.md (and prints it)
    python -m recipes.results --check    # exit 1 if docs/results.md is not what it would write

Each row is `reports/<name>/metrics.json` as the last `dvc repro` of that entry left it,
beside the reference of `models.<name>` in params.yaml and the network its layers spell.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from recipes import config, paths
from recipes.atomic import write_text
from recipes.errors import UserError, run

OUT = Path("docs/results.md")


def network(entry) -> str:
    """A layer list in one line: conv20(5x5)-pool-100-10; res64(3x3/2) a residual block."""
    if entry.kind == "committee":
        return f"committee of {len(entry.members)} ({entry.combine}): " + ", ".join(entry.members)
    if entry.kind != "net":
        return entry.kind.replace("_", " ")
    parts = []
    for s in entry.layers:
        if s.type in ("conv", "residual"):
            stride = f"/{s.stride}" if s.stride != 1 else ""
            kind = "conv" if s.type == "conv" else "res"
            parts.append(f"{kind}{s.num_filters}({s.filter_size}x{s.filter_size}{stride})")
        elif s.type == "dense":
            parts.append(str(s.num_units))
        elif s.type == "dropout":
            parts.append(f"drop{s.p:g}")
        elif s.type == "batchnorm":
            parts.append("bn")
        elif s.type == "global_pool":
            parts.append(f"global{s.mode}")
        else:
            parts.append(s.type.replace("_", ""))
    extra = [f"data: {entry.data}"] if entry.data != "train_split" else []
    if entry.augment is not None:
        extra.append("per-batch " + "+".join(k for k in ("elastic", "affine") if getattr(entry.augment, k)))
    if entry.pretrain is not None:
        extra.append("RBM pretraining")
    if entry.train_on_val:
        extra.append("final fit on all 60,000")
    return "-".join(parts) + (f" ({'; '.join(extra)})" if extra else "")


def rows(params: config.Params, root: Path = Path(".")) -> list[dict]:
    out = []
    for name, entry in params.models.items():
        path = root / paths.metrics(name)
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        ref = entry.reference.accuracy if entry.reference else None
        row = {"model": name, "network": network(entry), "accuracy": m.get("accuracy"),
               "reference": ref, "epochs": m.get("epochs"), "best_epoch": m.get("best_epoch"),
               "train_seconds": m.get("train_seconds"), "n_params": m.get("n_params"),
               "threads": m.get("threads"), "cpu": m.get("cpu"), "spread": None}
        if "accuracy_mean" in m:  # seeds@: every declared seed, their mean and range
            per_seed = list(m["seeds"].values())
            secs = [r["train_seconds"] for r in per_seed if r.get("train_seconds") is not None]
            epochs = getattr(entry, "epochs", None)
            # a final fit keeps its last epoch; with validation each seed keeps its own best
            row.update(accuracy=m["accuracy_mean"], epochs=epochs,
                       best_epoch=epochs if getattr(entry, "train_on_val", False) else "per seed",
                       train_seconds=statistics.fmean(secs) if secs else None,
                       n_params=per_seed[0].get("n_params"),
                       spread=(m["n_seeds"], m["accuracy_std"], m["accuracy_min"], m["accuracy_max"]))
        out.append(row)
    return sorted(out, key=lambda r: (-r["accuracy"], r["model"]))


def markdown(rows: list[dict]) -> str:
    lines = ["# Every named configuration", "",
             "Made by `python -m recipes.results` from the committed `reports/<name>/metrics.json` "
             "(test accuracy of the entry's own seed, or the mean ± standard deviation and range over every "
             "seed of an entry with `seeds:`; settings chosen on validation; training seconds of a seeded "
             "entry: the mean per seed; a committee's: the sum of its members'). "
             "Training seconds are wall-clock on the machine that trained it, with the thread "
             "count the entry pins. ✗: the reference is not reached.", "",
             "| model | network | test accuracy | reference | vs reference | epochs (best) | training s | parameters |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        vs = "—" if r["reference"] is None else f"{100 * (r['accuracy'] - r['reference']):+.2f} pp" + (
            " ✗" if r["accuracy"] < r["reference"] else "")
        ref = "—" if r["reference"] is None else f"{r['reference']:.2%}"
        epochs = "—" if r["epochs"] is None else f"{r['epochs']} ({r['best_epoch']})"
        secs = "—" if r["train_seconds"] is None else f"{r['train_seconds']:,.0f}"
        params = "—" if r["n_params"] is None else f"{r['n_params']:,}"
        acc = f"{r['accuracy']:.2%}"
        if r["spread"]:
            n, std, lo, hi = r["spread"]
            acc += (f" ± {100 * std:.2f} ({lo:.2%}–{hi:.2%}, {n} seeds)" if std is not None
                    else " (1 seed)")
        lines.append(f"| {r['model']} | {r['network']} | {acc} | {ref} | {vs} "
                     f"| {epochs} | {secs} | {params} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = sys.argv[1:]
    if args not in ([], ["--check"]):
        raise UserError("usage: python -m recipes.results [--check]")
    text = markdown(rows(config.load()))
    if args == ["--check"]:
        if not OUT.exists() or OUT.read_text() != text:
            raise UserError(f"{OUT} is stale: run `python -m recipes.results`")
        return
    write_text(OUT, text)
    print(text, end="")


if __name__ == "__main__":
    run(main)
