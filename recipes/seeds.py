"""The spread of an entry trained with several seeds (`seeds: [1, 2, 3]`, trained as
`<entry>+1`, `<entry>+2`, ... in train.models): what seeds@<entry> reports and the
leaderboard shows, instead of any one seed.

Every declared seed counts: nothing here picks a seed, by test accuracy or otherwise.
"""

from __future__ import annotations

import statistics

from recipes import config

PER_SEED = ("accuracy", "error", "n_params", "train_seconds", "seed")


def spread(rows: list[dict]) -> dict:
    """accuracy_mean, _std (the sample standard deviation; None for one seed), _min, _max,
    n_seeds, and each seed's own figures, from the seeds' leaderboard rows."""
    if not rows:
        raise ValueError("no rows")
    acc = [r["accuracy"] for r in rows]
    return {"accuracy_mean": round(statistics.fmean(acc), 5),
            "accuracy_std": round(statistics.stdev(acc), 5) if len(acc) > 1 else None,
            "accuracy_min": min(acc), "accuracy_max": max(acc), "n_seeds": len(acc),
            "seeds": {r["model"]: {k: r.get(k) for k in PER_SEED} for r in rows}}


def group(rows: list[dict]) -> list[dict]:
    """Rows of `<entry>+<seed>` names gathered into one row per entry, in first-seen order:
    its accuracy the mean over its seeds, its seeds' rows under `seeds`, beside the spread."""
    out, groups = [], {}
    for r in rows:
        base, seed = config.split_seed(r["model"])
        if seed is None:
            out.append(r)
            continue
        if base not in groups:
            groups[base] = []
            out.append(base)
        groups[base].append(r)
    return [r if isinstance(r, dict) else _row(r, groups[r]) for r in out]


def _row(name: str, rows: list[dict]) -> dict:
    s = spread(rows)

    def mean(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.fmean(vals), 2) if vals else None

    first = rows[0]
    return {**{k: first.get(k) for k in first if k not in ("model", "seed")},
            "model": name, "accuracy": s["accuracy_mean"], "error": round(1 - s["accuracy_mean"], 5),
            "train_seconds": mean("train_seconds"), "predict_images_per_s": mean("predict_images_per_s"),
            **{k: v for k, v in s.items() if k != "seeds"}, "seeds": list(rows)}
