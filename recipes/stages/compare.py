"""Stage compare: for each pair [a, b] of `report.compare`, what b fixes and breaks.

    python -m recipes.stages.compare

Writes reports/compare/<a>_vs_<b>.png (two galleries: the test digits b fixes, a wrong and b
right, and those it breaks) and reports/compare.json (the counts and test rows of every
pair). A pair naming a model outside `train.models` is skipped with a notice: it has no
predictions in this run, and a run of other models should not have to empty the list.
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


def compare(pred_a: pd.DataFrame, pred_b: pd.DataFrame,
            names: tuple[str, str] = ("a", "b")) -> dict[str, pd.DataFrame]:
    """What b fixes (a wrong, b right) and breaks (a right, b wrong), on the same test rows.

    Each frame has index, label, pred_a, prob_a, pred_b, prob_b; `fixed` is ordered by how
    sure a was of its mistake, `broken` by how sure b is of its own, most sure first.
    """
    a, b = names
    if len(pred_a) != len(pred_b) or not (
            np.array_equal(pred_a["index"].to_numpy(), pred_b["index"].to_numpy())
            and np.array_equal(pred_a["label"].to_numpy(), pred_b["label"].to_numpy())):
        raise UserError(f"predictions of `{a}` and `{b}` are not on the same test rows "
                        f"({len(pred_a)} and {len(pred_b)} rows): re-run evaluate for both")
    both = pd.DataFrame({"index": pred_a["index"].to_numpy(np.int64),
                         "label": pred_a["label"].to_numpy(np.int64),
                         "pred_a": pred_a["pred"].to_numpy(np.int64), "prob_a": confidence(pred_a),
                         "pred_b": pred_b["pred"].to_numpy(np.int64), "prob_b": confidence(pred_b)})
    right_a = both["pred_a"] == both["label"]
    right_b = both["pred_b"] == both["label"]

    def ordered(rows: pd.DataFrame, by: str) -> pd.DataFrame:
        return rows.sort_values([by, "index"], ascending=[False, True],
                                kind="stable").reset_index(drop=True)

    return {"fixed": ordered(both[~right_a & right_b], "prob_a"),
            "broken": ordered(both[right_a & ~right_b], "prob_b"),
            "both_wrong": ordered(both[~right_a & ~right_b], "prob_b")}


def compare_summary(a: str, b: str, cmp: dict[str, pd.DataFrame], n: int) -> dict:
    fixed, broken, both = cmp["fixed"], cmp["broken"], cmp["both_wrong"]
    return {"a": a, "b": b, "test_images": n,
            "a_errors": len(fixed) + len(both), "b_errors": len(broken) + len(both),
            "fixed": len(fixed), "broken": len(broken), "net_fixed": len(fixed) - len(broken),
            "both_wrong": len(both),
            "fixed_index": [int(i) for i in fixed["index"]],
            "broken_index": [int(i) for i in broken["index"]]}


def draw_compare(path: Path, a: str, b: str, cmp: dict[str, pd.DataFrame],
                 images: np.ndarray, n: int, tiles: int = 120) -> list[gallery.Tile]:
    """Two grids: the digits b fixes and those it breaks, each with both predictions."""
    per = max(1, tiles // 2)

    def section(rows: pd.DataFrame, what: str, color: str) -> gallery.Section:
        shown = rows.head(per)
        caps = [f"#{r.index}  true {r.label}\na: {r.pred_a} ({r.prob_a:.2f})\n"
                f"b: {r.pred_b} ({r.prob_b:.2f})" for r in shown.itertuples()]
        count = f"{len(rows):,}" if len(shown) == len(rows) else f"{len(shown)} of {len(rows):,}"
        return gallery.Section(f"{what} ({count})", images[shown["index"].to_numpy()], caps,
                               colors=[color] * len(caps), empty="none")

    fixed, broken, both = cmp["fixed"], cmp["broken"], cmp["both_wrong"]
    title = [f"a = {a}, b = {b}: what b changes on {n:,} test digits",
             f"b fixes {len(fixed):,} and breaks {len(broken):,} (net {len(fixed) - len(broken):+,}); "
             f"both wrong on {len(both):,}",
             "caption: #row of the test set, true digit; each model's prediction "
             "(and the probability it gave it)"]
    sections = [section(fixed, f"fixed: {a} wrong, {b} right — most confident {a} mistakes first",
                        "#1b5e20"),
                section(broken, f"broken: {a} right, {b} wrong — most confident {b} mistakes first",
                        "#b71c1c")]
    return gallery.draw_gallery(path, title, sections)


def report_compare(a: str, b: str, tiles: int, root: Path = Path(".")) -> dict:
    pa, pb = root / paths.predictions(a), root / paths.predictions(b)
    pred_a, pred_b = predictions.read(pa), predictions.read(pb)
    cmp = compare(pred_a, pred_b, (a, b))
    images = predictions.test_images(pred_a, pa, root)
    draw_compare(root / paths.COMPARE / f"{a}_vs_{b}.png", a, b, cmp, images, len(pred_a), tiles)
    return compare_summary(a, b, cmp, len(pred_a))


def pairs_to_draw(params: config.Params) -> list[tuple[str, str]]:
    trained = set(params.train.models) | set(params.train.committees)
    pairs = []
    for a, b in params.report.compare:
        missing = [n for n in (a, b) if n not in trained]
        if missing:
            print(f"notice: report.compare [{a}, {b}] skipped: {', '.join(missing)} not in "
                  "train.models", file=sys.stderr)
        else:
            pairs.append((a, b))
    return pairs


def main() -> None:
    if len(sys.argv) != 1:
        raise UserError("usage: python -m recipes.stages.compare")
    params = config.load()
    (paths.COMPARE).mkdir(parents=True, exist_ok=True)
    for old in paths.COMPARE.glob("*.png"):  # the stage rewrites its outputs completely
        old.unlink()
    summaries = [report_compare(a, b, params.report.tiles) for a, b in pairs_to_draw(params)]
    write_text(paths.REPORTS / "compare.json", json.dumps({"pairs": summaries}, indent=2) + "\n")
    for s in summaries:
        print(f"compare: {s['b']} fixes {s['fixed']} and breaks {s['broken']} of {s['a']}'s",
              file=sys.stderr)


if __name__ == "__main__":
    run(main)
